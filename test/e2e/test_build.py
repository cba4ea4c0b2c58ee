"""The build checks its libraries (`make libcheck`, run before anything is
compiled) and builds on the oldest ones it supports: the fallbacks for
libcurl < 7.85 (no CURLOPT_PROTOCOLS_STR) and libgit2 < 1.4.3 (no owner
validation) compile warning-free (forced with -D flags, as this machine has
newer libraries)."""
import os
import subprocess
import unittest

from util import ROOT, tmpdir


def make(*args):
    return subprocess.run(["make", "-s", "--no-print-directory", "-C", ROOT] + list(args),
                          capture_output=True, text=True, timeout=300)


class LibraryCheckTest(unittest.TestCase):
    def test_present_libraries_pass(self):
        r = make("libcheck")
        self.assertEqual(0, r.returncode, r.stdout + r.stderr)
        self.assertEqual("", r.stdout + r.stderr)

    def test_too_old_library_is_named_with_what_to_do(self):
        r = make("libcheck", "LIB_MIN=libgit2:1.1.0 libcurl:99.0.0")
        self.assertNotEqual(0, r.returncode)
        self.assertRegex(r.stderr, r"make: libcurl [0-9.]+ is too old: prenv needs libcurl >= 99\.0\.0")
        self.assertIn("PKG_CONFIG_PATH", r.stderr)

    def test_missing_library_is_named_with_what_to_do(self):
        r = make("libcheck", "LIB_MIN=libprenv-nosuch:1.0")
        self.assertNotEqual(0, r.returncode)
        self.assertIn("make: libprenv-nosuch not found by pkg-config: run 'make deps-build'",
                      r.stderr)

    def test_build_stops_before_compiling_when_a_library_is_too_old(self):
        b = tmpdir(self)
        r = make("B=" + b, "LIB_MIN=libcurl:99.0.0", b + "/obj/runner/util/names.o")
        self.assertNotEqual(0, r.returncode)
        self.assertIn("is too old", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(b, "obj")))

    def test_old_library_fallbacks_compile(self):
        b = tmpdir(self)
        r = make("B=" + b, "EXTRA_CFLAGS=-DPRENV_CURL_NO_PROTOCOLS_STR "
                 "-DPRENV_LIBGIT2_NO_OWNER_VALIDATION",
                 b + "/obj/runner/util/http.o", b + "/obj/runner/util/git.o")
        self.assertEqual(0, r.returncode, r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
