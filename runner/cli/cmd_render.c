/* cmd_render.c - `prenv render`: the manifests, no cluster, no network. */
#include "cli/cli.h"

#include <string.h>

#include "config/config.h"
#include "registry.h"
#include "render/render.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"

/* The provider's checks that need no cluster (kubernetes: namespaces,
 * cluster-scoped kinds), so render finds what deploy would refuse. */
static int render_check(struct cli *cli, const cJSON *objs, struct prenv_err *err)
{
	const struct prenv_provider *p = provider_find(cli->cfg->provider_kind);
	struct provider_run run;

	if (!p || !p->check || !objs)
		return 0;
	memset(&run, 0, sizeof(run));
	run.cfg = cli->cfg;
	run.ctx = cli->ctx;
	run.plan = cli->plan;
	run.envp = cli->envp;
	run.wait_seconds = -1;
	return p->check(&run, objs, err);
}

/* The default output (YAML on stdout) of a plain templates directory is
 * made a template file at a time: its objects are checked, written into
 * the output and freed, so only one file's objects are ever in memory.
 * Nothing is printed before everything passed. */
struct render_stream {
	struct cli *cli;
	struct prenv_buf *out;
};

static int render_stream_file(void *ud, cJSON *objs, struct prenv_err *err)
{
	struct render_stream *st = ud;
	int rc = render_check(st->cli, objs, err);

	if (rc == 0)
		rc = render_write(objs, "yaml", NULL, st->out, err);
	cJSON_Delete(objs);
	return rc;
}

static int render_streams(const struct cli *cli)
{
	return !cli->out_dir && (!cli->output || !strcmp(cli->output, "text") ||
				 !strcmp(cli->output, "yaml")) &&
	       !cli->cfg->nphases && !cli->cfg->nservices;
}

static int cmd_render(struct cli *cli, struct prenv_err *err)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	struct render_stream st;
	cJSON *objs = NULL;
	int rc, stream;

	cli->laptop_fallback = 1;
	rc = cli_load(cli, 1, err);

	if (rc < 0)
		return rc;
	if (!cli->cfg->templates && !cli->cfg->nphases && !cli->cfg->nservices)
		return prenv_err_set(err, PRENV_ECONFIG,
				     "%s names no templates directory: add `templates: DIR` (or `phases:`)", cli->cfg->path);
	if ((stream = render_streams(cli)) != 0) {
		st.cli = cli;
		st.out = &b;
		cli->render_sink = render_stream_file;
		cli->render_sink_ud = &st;
	}
	rc = cli_render_objects(cli, &objs, err);
	cli->render_sink = NULL;
	if (rc == 0 && !stream)
		rc = render_check(cli, objs, err);
	if (rc == 0 && !stream)
		rc = render_write(objs, cli->output && strcmp(cli->output, "text") ? cli->output : "yaml",
				  cli->out_dir, &b, err);
	if (rc == 0 && !cli->out_dir)
		log_out(b.ptr, b.len);
	else if (rc == 0)
		log_info("wrote %d objects to %s", cJSON_GetArraySize(objs), cli->out_dir);
	cJSON_Delete(objs);
	prenv_buf_free(&b);
	return rc;
}

const struct cmd_entry cmd_render_entry = {
	"render", cmd_render, "render the manifests (no cluster, no network)",
	"Renders every *.yaml/*.yml/*.json template of the configured directory\n"
	"with YAML-context escaping, checks the documents and adds prenv's labels.\n"
	"  -o yaml|json     output format (default yaml; json prints an array)\n"
	"  --out DIR        write one file per object into DIR instead of stdout\n"
	"  --allow-missing  render missing variables as empty instead of failing\n",
	0,
};
