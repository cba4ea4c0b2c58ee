/* floor.c - the deploy benchmark's raw floor: server-side-apply PATCHes sent
 * straight through libcurl and nothing else (no templates, no checks, no
 * labels, no prune, no waiting). One multi handle, HTTP/2 over TLS when the
 * server offers it (multiplexed, one connection), else the HTTP/1.1 pool;
 * at most PARALLEL requests in flight, as prenv.
 *
 *   floor BASE_URL TOKEN CA_FILE PARALLEL LIST
 *
 * LIST has one "PATH BODY_FILE" a line; the first (the namespace) is sent
 * alone first, the rest in parallel. Exit 0 when every answer is 2xx.
 * Built by bench_k8s.py with `cc floor.c $(pkg-config --cflags --libs libcurl)`. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct req {
	char url[1024];
	char *body;
	long len;
	char answer[256];   /* the start of the response, for a failure */
	size_t alen;
};

static size_t sink(char *p, size_t s, size_t n, void *u)
{
	struct req *r = u;
	size_t k = s * n < sizeof(r->answer) - 1 - r->alen ? s * n : sizeof(r->answer) - 1 - r->alen;

	memcpy(r->answer + r->alen, p, k);
	r->alen += k;
	r->answer[r->alen] = '\0';
	return s * n;
}

static char *slurp(const char *path, long *len)
{
	FILE *f = fopen(path, "rb");
	char *b;

	if (!f || fseek(f, 0, SEEK_END) || (*len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
		exit(2);
	b = malloc((size_t)*len + 1);
	if (!b || fread(b, 1, (size_t)*len, f) != (size_t)*len)
		exit(2);
	fclose(f);
	return b;
}

static CURL *easy(struct req *r, struct curl_slist *h, const char *ca)
{
	CURL *e = curl_easy_init();

	curl_easy_setopt(e, CURLOPT_URL, r->url);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "PATCH");
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, r->len);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_CAINFO, ca);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	return e;
}

int main(int argc, char **argv)
{
	struct req *rs = NULL;
	size_t n = 0, next = 0, done = 0;
	char line[2048], hdr[1024];
	struct curl_slist *h = NULL;
	CURLM *m;
	FILE *f;
	int par, running = 0, bad = 0;

	if (argc != 6 || !(f = fopen(argv[5], "r")))
		return 2;
	par = atoi(argv[4]);
	while (fgets(line, sizeof(line), f)) {
		char path[1024], file[1024];

		if (sscanf(line, "%1023s %1023s", path, file) != 2)
			continue;
		rs = realloc(rs, (n + 1) * sizeof(*rs));
		memset(&rs[n], 0, sizeof(rs[n]));
		snprintf(rs[n].url, sizeof(rs[n].url), "%s%s", argv[1], path);
		rs[n].body = slurp(file, &rs[n].len);
		n++;
	}
	fclose(f);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", argv[2]);
	h = curl_slist_append(h, hdr);
	h = curl_slist_append(h, "Content-Type: application/apply-patch+yaml");
	h = curl_slist_append(h, "Accept: application/json");
	m = curl_multi_init();
	curl_multi_setopt(m, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	while (done < n) {
		CURLMsg *msg;
		int left, still;

		/* the namespace first, alone; then PARALLEL at a time */
		while (next < n && running < (next == 0 || done == 0 ? 1 : par)) {
			curl_multi_add_handle(m, easy(&rs[next++], h, argv[3]));
			running++;
		}
		curl_multi_perform(m, &still);
		while ((msg = curl_multi_info_read(m, &left))) {
			long st = 0;
			struct req *r = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &st);
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
			if (msg->data.result != CURLE_OK || st < 200 || st > 299) {
				fprintf(stderr, "floor: %s: %ld %s %s\n", r->url, st,
					curl_easy_strerror(msg->data.result), r->answer);
				bad = 1;
			}
			curl_multi_remove_handle(m, msg->easy_handle);
			curl_easy_cleanup(msg->easy_handle);
			running--;
			done++;
		}
		/* sleep only while nothing new can start */
		if (done < n && !(next < n && running < (done == 0 ? 1 : par)))
			curl_multi_poll(m, NULL, 0, 1000, NULL);
	}
	curl_multi_cleanup(m);
	curl_slist_free_all(h);
	return bad;
}
