# prenv - build, test, demo. See README.md.
#
#   make          build build/prenv
#   make check    install missing deps, build, run every test (plain + ASan/UBSan)
#   make demo     install missing deps, build, run the main job locally
#   make demo-k8s the same with the kubernetes provider (test API server, real one if built)
#   make deps     install the missing Debian packages (idempotent)
#   make fuzz     build the libFuzzer targets with clang (test/fuzz/README.md)
#   make bench    run the benchmarks in test/bench/

VERSION := 0.1.0
CC      ?= cc
PKGS    := libcurl libcjson yaml-0.1 libgit2
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
WARN    := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wmissing-prototypes \
           -Wstrict-prototypes -Wwrite-strings -Wno-format-nonliteral
CFLAGS  ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -DPRENV_VERSION='"$(VERSION)"' $(WARN) \
             -Irunner -Iproviders $(PKG_CFLAGS) $(CPPFLAGS) $(CFLAGS) $(EXTRA_CFLAGS)
LDLIBS  = $(LINK_LIBS) -lm -lpthread

# Lazy loading (issue 15 item 4): the dynamic build does not link libcurl
# and libgit2 but loads them on first use (util/lazylib.c), so `prenv
# version`, `context` and `render` never load them and the ~40 libraries
# they pull in. LAZY=0 links them as before (static builds do). Their
# sonames come from the libraries pkg-config points at; if one cannot be
# read, that library is linked.
LAZY    ?= 1
LINK_LIBS := $(PKG_LIBS)
lazy_soname = $(shell f="$$(pkg-config --variable=libdir $(1) 2>/dev/null)/lib$(2).so"; \
	objdump -p "$$f" 2>/dev/null | awk '$$1 == "SONAME" { print $$2 }')
ifeq ($(LAZY),1)
LAZY_CURL := $(call lazy_soname,libcurl,curl)
LAZY_GIT2 := $(call lazy_soname,libgit2,git2)
LAZY_DIR  := $(shell pkg-config --variable=libdir libcurl 2>/dev/null)
ifneq ($(LAZY_CURL),)
ALL_CFLAGS += -DPRENV_LAZY_CURL='"$(LAZY_CURL)"'
LINK_LIBS := $(filter-out $(shell pkg-config --libs-only-l libcurl 2>/dev/null),$(LINK_LIBS))
endif
ifneq ($(LAZY_GIT2),)
ALL_CFLAGS += -DPRENV_LAZY_GIT2='"$(LAZY_GIT2)"'
LINK_LIBS := $(filter-out $(shell pkg-config --libs-only-l libgit2 2>/dev/null),$(LINK_LIBS))
endif
ALL_CFLAGS += -DPRENV_LAZY_DIR='"$(LAZY_DIR)"'
endif

B       ?= build
LIB_SRC := $(wildcard runner/*/*.c) $(wildcard providers/*.c providers/*/*.c)
LIB_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(LIB_SRC))
UNIT_SRC := $(wildcard test/unit/test_*.c)
UNIT_BIN := $(patsubst test/unit/%.c,$(B)/test/%,$(UNIT_SRC))
HDRS    := $(wildcard runner/*/*.h providers/*.h providers/*/*.h test/unit/*.h)

PREFIX  ?= /usr/local
# Build: what `make` needs (the GitHub Action installs only these).
# Test: what `make check` needs on top (cmocka, Python's YAML and JSON-schema
# parsers for the independent checks, envsubst for benchmarks, clang for fuzzing;
# the CNCF distribution registry and htpasswd (bcrypt) for the image checks;
# npm and kubectl when missing, below).
DEBIAN_BUILD_PKGS := libcurl4-openssl-dev libcjson-dev libgit2-dev libyaml-dev pkg-config make gcc
DEBIAN_TEST_PKGS  := libcmocka-dev python3-yaml python3-jsonschema gettext-base openssl \
                     git clang libclang-rt-14-dev valgrind time rsync zsh fish man-db \
                     docker-registry apache2-utils

# The oldest libraries prenv builds with, checked with pkg-config before
# anything is compiled (`make libcheck`; README "Building"): libcurl 7.77
# (CURLOPT_CAINFO_BLOB; 7.85's CURLOPT_PROTOCOLS_STR is used when there),
# libgit2 1.1 (1.4.3's owner validation is used when there). Ubuntu 22.04
# (libcurl 7.81, libgit2 1.1) and Debian 12 (7.88, 1.5) have them.
LIB_MIN := libcurl:7.77.0 libgit2:1.1.0 libcjson:0 yaml-0.1:0

.PHONY: all check test unit e2e asan deps deps-build deps-npm deps-kubectl fixtures k8s-real demo \
        static check-static \
	demo-k8s fuzz bench clean install uninstall deb print-lazy-libs libcheck

all: $(B)/prenv

$(B)/prenv: runner/main.c $(B)/libprenv.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ runner/main.c $(B)/libprenv.a $(LDLIBS) $(EXTRA_LDFLAGS)

$(B)/libprenv.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# (the static build checks its own libraries: LIBCHECK= there)
LIBCHECK ?= libcheck
$(B)/obj/%.o: %.c $(HDRS) | $(LIBCHECK)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/test/%: test/unit/%.c $(B)/libprenv.a $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itest/unit -o $@ $< $(B)/libprenv.a \
		$(shell pkg-config --libs cmocka 2>/dev/null) $(LDLIBS) $(EXTRA_LDFLAGS)

unit: $(UNIT_BIN)

libcheck:
	@command -v pkg-config >/dev/null 2>&1 || { echo "make: pkg-config is missing:" \
	  "run 'make deps-build' (Debian/Ubuntu) or install pkg-config" >&2; exit 1; }; \
	for m in $(LIB_MIN); do p=$${m%%:*}; v=$${m#*:}; \
	  if ! have=$$(pkg-config --modversion $$p 2>/dev/null); then \
	    echo "make: $$p not found by pkg-config: run 'make deps-build' (Debian/Ubuntu)," \
	      "or install its development package and set PKG_CONFIG_PATH" >&2; exit 1; \
	  elif ! pkg-config --atleast-version=$$v $$p; then \
	    echo "make: $$p $$have is too old: prenv needs $$p >= $$v. Use Debian 12 or" \
	      "Ubuntu 22.04 or later (e.g. runs-on: ubuntu-22.04), or install a newer $$p" \
	      "and point PKG_CONFIG_PATH at it; see README, Building" >&2; exit 1; \
	  fi; \
	done

# Installs only what is missing; a no-op when everything is there.
define install_missing
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make: installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
	else echo "make: Debian packages present ($(2))"; fi
endef

deps-build:
	$(call install_missing,$(DEBIAN_BUILD_PKGS),build)

# kubectl: the Kubernetes end-to-end tests check prenv's work with the real
# client. Debian ships it as kubernetes-client (kubectl 1.20); installed
# only when no kubectl is on PATH (any other install is used as it is).
KUBECTL ?= kubectl

deps: deps-build
	$(call install_missing,$(DEBIAN_TEST_PKGS),test)
	@command -v npm >/dev/null 2>&1 || $(MAKE) --no-print-directory DEBIAN_TEST_PKGS=npm deps-npm
	@command -v $(KUBECTL) >/dev/null 2>&1 || $(MAKE) --no-print-directory deps-kubectl

deps-npm:
	$(call install_missing,npm,npm)

# A real Kubernetes 1.20 for the tests, built once from Debian's source
# package into a cache outside the repository (~15-25 min the first time,
# under a second afterwards); see test/k8s-real/README.md.
k8s-real:
	@bash test/k8s-real/build.sh

deps-kubectl:
	$(call install_missing,kubernetes-client,kubectl)

# Real GitHub webhook payloads for the tests (npm, not committed).
fixtures:
	@sh test/fetch-fixtures.sh

# Every test, plain and under AddressSanitizer+UBSan. The summary line at the
# end counts both runs.
# The builds run CHECK_JOBS compilers at once (default: one per CPU).
CHECK_JOBS ?= $(shell nproc 2>/dev/null || echo 2)
check: deps fixtures k8s-real
	@$(MAKE) --no-print-directory -j$(CHECK_JOBS) all unit
	@$(MAKE) --no-print-directory -j$(CHECK_JOBS) B=build/asan \
	  EXTRA_CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  EXTRA_LDFLAGS="-fsanitize=address,undefined" CFLAGS="-O1 -g" all unit
	@if command -v clang >/dev/null; then $(MAKE) --no-print-directory -j$(CHECK_JOBS) fuzz; fi
	@if bash dist/static/build-deps.sh --check; then \
	  $(MAKE) --no-print-directory -j$(CHECK_JOBS) static && PRENV_CHECK_STATIC=build/prenv-static sh test/run-tests.sh; \
	else sh test/run-tests.sh; fi

# libFuzzer targets: the library is compiled once with clang and the
# sanitizers (fuzzer-no-link: coverage only, no main) into its own static
# library; each test/fuzz/fuzz_*.c links against it. test/run-tests.sh runs
# each for a few seconds with its dictionary; see test/fuzz/README.md.
FUZZ_CC     ?= clang
FUZZ_B      := $(B)/fuzz
FUZZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS  = -std=c11 -D_GNU_SOURCE -DPRENV_VERSION='"$(VERSION)"' $(WARN) -Irunner -Iproviders \
               $(PKG_CFLAGS) -g -O1 $(FUZZ_SAN)
FUZZ_OBJ    := $(patsubst %.c,$(FUZZ_B)/obj/%.o,$(LIB_SRC))
FUZZ_BIN    := $(patsubst test/fuzz/%.c,$(FUZZ_B)/%,$(wildcard test/fuzz/fuzz_*.c))
FD          := test/fuzz/dict

fuzz: $(FUZZ_BIN) $(addsuffix .dict,$(FUZZ_BIN))

# Each target's dictionary: the YAML tokens and its own keys.
$(FUZZ_B)/fuzz_yaml.dict: $(FD)/yaml.dict
$(FUZZ_B)/fuzz_config.dict: $(FD)/yaml.dict $(FD)/config.dict
$(FUZZ_B)/fuzz_kubeconfig.dict: $(FD)/yaml.dict $(FD)/kubeconfig.dict
$(FUZZ_B)/fuzz_tmpl.dict: $(FD)/yaml.dict $(FD)/tmpl.dict
$(FUZZ_B)/fuzz_ci.dict: $(FD)/ci.dict
$(FUZZ_B)/%.dict:
	@mkdir -p $(@D)
	cat $^ >$@

$(FUZZ_B)/obj/%.o: %.c $(HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_B)/libprenv.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_B)/fuzz_%: test/fuzz/fuzz_%.c test/fuzz/fuzz_util.h $(FUZZ_B)/libprenv.a $(HDRS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_B)/libprenv.a \
		$(PKG_LIBS) -lm -lpthread

# The static binary (issue 15 item 1): build/prenv-static, one fully static
# x86_64 Linux executable linked with musl against libcurl (HTTP/2, OpenSSL
# 3.0), libgit2, libyaml and cJSON built from their Debian source packages by
# dist/static/build-deps.sh into ${PRENV_CACHE_DIR:-/var/cache/prenv}/static
# (once: ~30 min on 2 busy cores; then nothing to do). No lazy loading
# (LAZY=0): nothing is loaded at run time. It finds the CA bundle at run time
# (util/cabundle.c). `make check-static` builds it and runs the end-to-end
# suite with it; `make check` builds it and runs test_empty_root.py and
# test_pages_git_http.py with it only when the libraries are already cached
# (build-deps.sh --check), so a fresh clone's check never builds them.
STATIC_B    := build/static
E2E_PY      ?= $(shell [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || echo python3)
STATIC_LIBS := -lgit2 -lcurl -lnghttp2 -lssl -lcrypto -lhttp_parser -lyaml -lcjson -lz

static:
	@p=$$(nice -n 10 bash dist/static/build-deps.sh | tail -n 1) && [ -d "$$p" ] && \
	nice -n 10 $(MAKE) --no-print-directory B=$(STATIC_B) CC=musl-gcc LAZY=0 LIBCHECK= \
	  PKG_CFLAGS="-I$$p/include -DPRENV_STATIC" PKG_LIBS="-L$$p/lib $(STATIC_LIBS)" \
	  LDFLAGS="-static -Wl,--gc-sections" $(STATIC_B)/prenv && \
	cp $(STATIC_B)/prenv build/prenv-static && \
	strip -o build/prenv-static.stripped build/prenv-static && \
	ls -l build/prenv-static build/prenv-static.stripped

check-static: static fixtures
	PRENV_BIN=build/prenv-static $(E2E_PY) test/e2e/run.py

demo: deps-build
	@$(MAKE) --no-print-directory all
	@sh ci-examples/demo/run.sh

# The same story with templates/web and the kubernetes provider: against the
# project's test API server, then the real Kubernetes when it is built.
demo-k8s: deps-build
	@$(MAKE) --no-print-directory all
	@sh ci-examples/demo-k8s/run.sh

bench: all
	@if bash dist/static/build-deps.sh --check; then $(MAKE) --no-print-directory static; fi
	@for f in test/bench/bench_*.sh; do [ -e "$$f" ] && sh $$f; done; true

# The libraries LAZY=1 loads on first use (dlopen), one path a line: ldd
# does not list them (action.yml copies them beside a cached binary).
print-lazy-libs:
	@for s in $(LAZY_CURL) $(LAZY_GIT2); do echo "$(LAZY_DIR)/$$s"; done

# make install [DESTDIR=/tmp/pkg] [PREFIX=/usr/local]: the binary, the man
# page and the shell completions where bash-completion, zsh and fish look
# for them under PREFIX.
MANDIR  ?= $(PREFIX)/share/man
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(MANDIR)/man1 \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
	  $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions \
	  $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	install -m 755 $(B)/prenv $(DESTDIR)$(PREFIX)/bin/prenv
	install -m 644 dist/man/prenv.1 $(DESTDIR)$(MANDIR)/man1/prenv.1
	install -m 644 dist/completions/prenv.bash \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions/prenv
	install -m 644 dist/completions/_prenv $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions/_prenv
	install -m 644 dist/completions/prenv.fish \
	  $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/prenv.fish

# make deb: a Debian package (debian/), built with dpkg-buildpackage from a
# clean copy of the committed tree (so `make clean` never runs here), then
# checked with lintian. The .deb lands in build/deb/.
deb:
	@rm -rf $(B)/deb && mkdir -p $(B)/deb/src
	git archive HEAD | tar -x -C $(B)/deb/src
	cd $(B)/deb/src && dpkg-buildpackage -us -uc -b >../build.log 2>&1 || \
	  { tail -n 30 ../build.log; exit 1; }
	lintian --info $(B)/deb/*.changes || true
	@ls $(B)/deb/*.deb

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/prenv $(DESTDIR)$(MANDIR)/man1/prenv.1 \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions/prenv \
	  $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions/_prenv \
	  $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/prenv.fish

clean:
	rm -rf build
