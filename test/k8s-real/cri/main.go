// prenv-cri: the few CRI calls test/k8s-real/cluster.py needs (Debian 12 has
// no crictl). Built by build.sh inside the Kubernetes source tree, against
// its vendored CRI client (pkg/kubelet/cri/remote).
//
//	prenv-cri -endpoint unix:///path/containerd.sock pods        # list sandboxes
//	prenv-cri -endpoint unix:///path/containerd.sock containers  # list containers
//	prenv-cri -endpoint unix:///path/containerd.sock images      # list images
//	prenv-cri -endpoint unix:///path/containerd.sock stop-all    # stop + remove every sandbox
//	prenv-cri -endpoint unix:///path/containerd.sock version
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1alpha2"
	"k8s.io/kubernetes/pkg/kubelet/cri/remote"
)

func main() {
	endpoint := flag.String("endpoint", "", "CRI endpoint (unix:///...)")
	timeout := flag.Duration("timeout", 60*time.Second, "timeout per call")
	flag.Parse()
	if *endpoint == "" || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: prenv-cri -endpoint unix:///sock pods|containers|images|stop-all|version")
		os.Exit(2)
	}
	rs, err := remote.NewRemoteRuntimeService(*endpoint, *timeout)
	if err != nil {
		fail(err)
	}
	switch flag.Arg(0) {
	case "version":
		v, err := rs.Version("v1alpha2")
		if err != nil {
			fail(err)
		}
		fmt.Printf("%s %s %s\n", v.RuntimeName, v.RuntimeVersion, v.RuntimeApiVersion)
	case "pods":
		pods, err := rs.ListPodSandbox(nil)
		if err != nil {
			fail(err)
		}
		for _, p := range pods {
			fmt.Printf("%s\t%s\t%s/%s\n", p.Id, p.State, p.Metadata.Namespace, p.Metadata.Name)
		}
	case "containers":
		cs, err := rs.ListContainers(nil)
		if err != nil {
			fail(err)
		}
		for _, c := range cs {
			fmt.Printf("%s\t%s\t%s\t%s\n", c.Id, c.State, c.PodSandboxId, c.Metadata.Name)
		}
	case "images":
		is, err := remote.NewRemoteImageService(*endpoint, *timeout)
		if err != nil {
			fail(err)
		}
		imgs, err := is.ListImages(nil)
		if err != nil {
			fail(err)
		}
		for _, i := range imgs {
			fmt.Printf("%s\t%v\n", i.Id, i.RepoTags)
		}
	case "stop-all":
		// StopPodSandbox kills the containers and runs the CNI DEL (veth,
		// IP), RemovePodSandbox drops it and its network namespace.
		pods, err := rs.ListPodSandbox(nil)
		if err != nil {
			fail(err)
		}
		bad := 0
		for _, p := range pods {
			if err := rs.StopPodSandbox(p.Id); err != nil {
				fmt.Fprintf(os.Stderr, "stop %s: %v\n", p.Id, err)
				bad++
				continue
			}
			if err := rs.RemovePodSandbox(p.Id); err != nil {
				fmt.Fprintf(os.Stderr, "remove %s: %v\n", p.Id, err)
				bad++
				continue
			}
			fmt.Printf("removed %s %s/%s\n", p.Id, p.Metadata.Namespace, p.Metadata.Name)
		}
		left, err := rs.ListPodSandbox(&runtimeapi.PodSandboxFilter{})
		if err == nil && len(left) > 0 {
			fmt.Fprintf(os.Stderr, "%d sandboxes left\n", len(left))
			bad++
		}
		if bad > 0 {
			os.Exit(1)
		}
	default:
		fmt.Fprintln(os.Stderr, "unknown command", flag.Arg(0))
		os.Exit(2)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "prenv-cri:", err)
	os.Exit(1)
}
