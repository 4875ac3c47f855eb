#!/usr/bin/env python3
"""Prints which top-level modules of a crate's src/ import which (from `crate::x` paths in code, comments and
`#[cfg(test)]` modules left out), and exits 1 if they form a cycle: in Hearth, imports point one way.

Usage: scripts/module-graph.py [--quiet] [SRC_DIR ...]   (default: server/src)
"""
import glob
import os
import re
import sys


def code_of(path):
    src = open(path, encoding="utf-8", errors="replace").read()
    src = re.sub(r"/\*.*?\*/", "", src, flags=re.S)
    src = "\n".join(re.sub(r"//.*$", "", line) for line in src.splitlines())
    test = re.search(r"#\[cfg\(test\)\]\s*mod\s+\w+", src)
    return src[: test.start()] if test else src


def graph(root):
    files = [f for f in glob.glob(f"{root}/**/*.rs", recursive=True) if "/bin/" not in f]
    top = lambda f: os.path.relpath(f, root).split(os.sep)[0].removesuffix(".rs")
    modules = {top(f) for f in files} - {"lib", "main"}
    edges = {m: set() for m in modules}
    for f in files:
        me = top(f)
        if me in ("lib", "main"):
            continue
        for target in re.findall(r"crate::([a-z_][a-z0-9_]*)", code_of(f)):
            if target != me and target in modules:
                edges[me].add(target)
    return edges


def cycles(edges):
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def main():
    args = [a for a in sys.argv[1:] if a != "--quiet"]
    quiet = "--quiet" in sys.argv
    failed = False
    for root in args or ["server/src"]:
        edges = graph(root)
        if not quiet:
            print(f"{root}:")
            for module in sorted(edges):
                print(f"  {module} -> {', '.join(sorted(edges[module])) or '(leaf)'}")
        for cycle in cycles(edges):
            failed = True
            print(f"{root}: import cycle: {' <-> '.join(cycle)}", file=sys.stderr)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
