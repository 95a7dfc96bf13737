#!/usr/bin/env python3
"""Fails when modules of a Rust crate import each other in a cycle (layers call only
downward). Reads `crate::`, `super::` and `self::` paths in each file (comments and test
modules aside) and resolves each to the deepest module it names.

    scripts/module-cycles.py actors/src protocol/src
"""
import os
import re
import sys


def modules(root):
    mods = {}
    for dp, _, fs in os.walk(root):
        for f in fs:
            if f.endswith(".rs"):
                rel = os.path.relpath(os.path.join(dp, f), root)[:-3].replace(os.sep, "::")
                rel = re.sub(r"(::)?mod$", "", rel)
                mods["" if rel in ("lib", "main") else rel] = open(os.path.join(dp, f)).read()
    return mods


def parent(m):
    return m.rsplit("::", 1)[0] if "::" in m else ""


def resolve(mods, cur, path):
    parts = path.split("::")
    if parts[0] == "crate":
        base, parts = "", parts[1:]
    elif parts[0] == "self":
        base, parts = cur, parts[1:]
    else:
        base = cur
        while parts and parts[0] == "super":
            base, parts = parent(base), parts[1:]
    for i in range(len(parts), -1, -1):
        cand = "::".join(([base] if base else []) + parts[:i])
        if cand in mods:
            return cand
    return None


def cycles(root):
    mods = modules(root)
    edges = {m: set() for m in mods}
    for m, src in mods.items():
        src = re.sub(r"#\[cfg\(test\)\]\s*mod tests \{.*", "", src, flags=re.S)
        src = re.sub(r"//.*", "", src)
        for use in re.findall(r"\b(?:crate|super|self)(?:::\w+)+", src):
            t = resolve(mods, m, use)
            if t and t != m and not m.startswith(t + "::"):
                edges[m].add(t)
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
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
                found.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in mods:
        if v not in index:
            visit(v)
    return found, len(mods)


failed = False
for root in sys.argv[1:]:
    found, count = cycles(root)
    for comp in found:
        print(f"{root}: modules importing each other: {' ↔ '.join(comp)}")
    print(f"{root}: {count} modules, {len(found)} cycles")
    failed |= bool(found)
sys.exit(1 if failed else 0)
