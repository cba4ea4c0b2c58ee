"""`make install` like a Unix tool (issue 15, item 3): the binary, the man
page prenv(1) and the bash, zsh and fish completions land under
DESTDIR/PREFIX where those tools look; the man page and the completions
name every command and option `prenv --help` names (so they cannot drift
from the program), and the completions really complete, in real bash, zsh
and fish."""
import os
import re
import subprocess
import unittest

from util import PRENV, ROOT, tmpdir


def help_of(*args):
    r = subprocess.run([PRENV] + list(args) + ["--help"], capture_output=True, text=True)
    return r.stdout + r.stderr


def commands():
    text = help_of()
    part = text.split("Commands:\n", 1)[1]
    return [m.group(1) for m in re.finditer(r"^  ([a-z]+)\s", part, re.M)]


def options(text):
    """Long and short options in a help text's option lines."""
    found = set()
    for line in text.splitlines():
        m = re.match(r"^\s+(-[a-z]|--[a-z-]+)(?:, (--[a-z-]+))?", line)
        if m:
            found.update(x for x in m.groups() if x)
    return found


def read(rel):
    with open(os.path.join(ROOT, rel)) as f:
        return f.read()


class InstallTest(unittest.TestCase):
    def test_install_puts_everything_where_tools_look(self):
        d = tmpdir(self)
        r = subprocess.run(["make", "-s", "--no-print-directory", "-C", ROOT, "install",
                            "DESTDIR=" + d, "PREFIX=/usr"], capture_output=True, text=True,
                           timeout=600)
        self.assertEqual(0, r.returncode, r.stdout + r.stderr)
        want = {"usr/bin/prenv": 0o755, "usr/share/man/man1/prenv.1": 0o644,
                "usr/share/bash-completion/completions/prenv": 0o644,
                "usr/share/zsh/vendor-completions/_prenv": 0o644,
                "usr/share/fish/vendor_completions.d/prenv.fish": 0o644}
        for rel, mode in want.items():
            st = os.stat(os.path.join(d, rel))
            self.assertEqual(mode, st.st_mode & 0o777, rel)
        r = subprocess.run([os.path.join(d, "usr/bin/prenv"), "version"], capture_output=True,
                           text=True)
        self.assertEqual(0, r.returncode, r.stderr)
        r = subprocess.run(["make", "-s", "--no-print-directory", "-C", ROOT, "uninstall",
                            "DESTDIR=" + d, "PREFIX=/usr"], capture_output=True, text=True)
        self.assertEqual(0, r.returncode, r.stderr)
        for rel in want:
            self.assertFalse(os.path.exists(os.path.join(d, rel)), rel)

    def test_man_page_renders_without_warnings_and_names_everything(self):
        r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z",
                            os.path.join(ROOT, "dist/man/prenv.1")], capture_output=True, text=True)
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertEqual("", r.stderr)
        man = read("dist/man/prenv.1").replace("\\-", "-")
        section = man.split(".SH COMMANDS", 1)[1].split(".SH OPTIONS", 1)[0]
        listed = re.findall(r"^\.TP\n\.B ([a-z]+)$", section, re.M)
        self.assertEqual(commands(), listed, "the man page's COMMANDS, in --help's order")
        for opt in options(help_of()):
            self.assertIn(opt, man, "global option missing from prenv.1")
        for cmd in commands():
            for opt in options(help_of(cmd)) - {"-h", "--help"}:
                self.assertIn(opt, man, f"{cmd} {opt} missing from prenv.1")

    def test_completion_files_name_every_command_and_option(self):
        files = {"bash": read("dist/completions/prenv.bash"),
                 "zsh": read("dist/completions/_prenv"),
                 "fish": read("dist/completions/prenv.fish")}
        cmds = commands()
        self.assertGreaterEqual(len(cmds), 8)
        for shell, text in files.items():
            for cmd in cmds:
                self.assertRegex(text, r"\b%s\b" % cmd, f"{shell} completion lacks {cmd}")
            for opt in options(help_of()) | set().union(*(options(help_of(c)) for c in cmds)):
                bare = opt.lstrip("-")
                # fish spells options as -s X / -l NAME, zsh and bash as written
                pat = (r"-[sl] %s\b" % re.escape(bare)) if shell == "fish" else re.escape(opt)
                self.assertRegex(text, pat, f"{shell} completion lacks {opt}")


def bash_complete(line):
    words = line.split(" ")
    script = ("source %s\nCOMP_WORDS=(%s)\nCOMP_CWORD=%d\n_prenv\necho \"${COMPREPLY[*]}\"\n"
              % (os.path.join(ROOT, "dist/completions/prenv.bash"),
                 " ".join("'%s'" % w for w in words), len(words) - 1))
    r = subprocess.run(["bash", "--norc", "-c", script], capture_output=True, text=True)
    return r.stdout.split(), r.stderr


class ShellsCompleteTest(unittest.TestCase):
    def test_bash(self):
        got, err = bash_complete("prenv de")
        self.assertEqual(["deploy", "destroy"], got, err)
        got, err = bash_complete("prenv -c x.yml re")
        self.assertEqual(["render"], got, err)
        got, err = bash_complete("prenv deploy --")
        self.assertIn("--wait", got)
        self.assertNotIn("--out", got)
        got, err = bash_complete("prenv -o ")
        self.assertEqual(["text", "json", "yaml"], got, err)

    def test_fish(self):
        src = os.path.join(ROOT, "dist/completions/prenv.fish")
        r = subprocess.run(["fish", "--no-config", "-c",
                            "source %s; complete -C 'prenv de'; echo SEP; complete -C 'prenv render --'"
                            % src], capture_output=True, text=True)
        self.assertEqual(0, r.returncode, r.stderr)
        first, second = r.stdout.split("SEP\n", 1)
        self.assertEqual(["deploy", "destroy"], sorted(l.split("\t")[0] for l in first.splitlines()))
        self.assertIn("--allow-missing", [l.split("\t")[0] for l in second.splitlines()])

    def test_zsh(self):
        src = os.path.join(ROOT, "dist/completions/_prenv")
        r = subprocess.run(["zsh", "-n", src], capture_output=True, text=True)
        self.assertEqual(0, r.returncode, r.stderr)
        # load it the way compinit does: from fpath, as an autoloaded function
        d = tmpdir(self)
        os.symlink(src, os.path.join(d, "_prenv"))
        r = subprocess.run(["zsh", "-f", "-c", "fpath=(%s $fpath); autoload -Uz compinit; "
                            "compinit -u -d %s/zcd; print -r -- ${_comps[prenv]}" % (d, d)],
                           capture_output=True, text=True)
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertEqual("_prenv", r.stdout.strip())


if __name__ == "__main__":
    unittest.main()
