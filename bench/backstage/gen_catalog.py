#!/usr/bin/env python3
"""Writes ONE synthetic catalog as Backstage descriptor YAML, imported by both sides of
`make bench-compare`: Backstage through a `file` location (all.yaml, a Location listing every
group file), the console through `catalog_dir` (it reads every file under the directory and follows
the Location's targets inside it).

Layout: OUT/all.yaml (kind Location) and OUT/groups/team-NNN.yaml, each holding one Group, its
three Users and its Components (a file stays far below the console's 1 MiB per-file limit).

Components are named `<word>-service-<i>` with the word cycling through WORDS, so that:
- `billing` is in 1 name of 16 (1,250 at 20,000): a full-text first page of 50 is full;
- `billing-service-1982` exists (word index 1982 % 16 == 14 is billing) and a substring search for
  it matches 1-2 names (at 20,000 also `billing-service-19822`);
- lifecycle cycles production / experimental / deprecated (a third each: page 3 of a lifecycle
  filter exists), tier 1-4, owner `team-<i mod groups>`.
The word appears only in the names, descriptions and tags of its own Components, so a search on
the name (Backstage) and on name, description or squad (the console) match the same set.

Usage: gen_catalog.py OUT [COMPONENTS [GROUPS]]; defaults from BENCH_COMPONENTS (20000) and
BENCH_GROUPS (300).
"""

import os
import sys

WORDS = [
    "payments", "checkout", "search", "ledger", "identity", "catalog", "shipping", "pricing",
    "reviews", "inventory", "notifications", "fraud", "recommendations", "media", "billing",
    "messaging",
]
LIFECYCLES = ["production", "experimental", "deprecated"]
MEMBERS = 3
assert WORDS[1982 % len(WORDS)] == "billing"


def sizes():
    return int(os.environ.get("BENCH_COMPONENTS", "20000")), int(os.environ.get("BENCH_GROUPS", "300"))


def component_name(i):
    return f"{WORDS[i % len(WORDS)]}-service-{i}"


def group_name(g):
    return f"team-{g:03d}"


def member_name(g, m):
    return f"user-{g:03d}-{m}"


def exact_name(components):
    """`billing-service-1982`, or the last billing component of a catalog too small for it."""
    if components > 1982:
        return component_name(1982)
    last = max(i for i in range(components) if WORDS[i % len(WORDS)] == "billing")
    return component_name(last)


def write(out, components, groups):
    """Writes the catalog under `out`; returns the path of all.yaml."""
    if components < 1 or groups < 1:
        raise ValueError("need at least one component and one group")
    os.makedirs(os.path.join(out, "groups"), exist_ok=True)
    by_group = [[] for _ in range(groups)]
    for i in range(components):
        by_group[i % groups].append(i)
    targets = []
    for g, members in enumerate(by_group):
        team = group_name(g)
        docs = [
            f"""apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: {team}
  description: Team {g}
spec:
  type: team
  profile:
    displayName: Team {g}
  children: []
"""
        ]
        for m in range(MEMBERS):
            docs.append(
                f"""apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: {member_name(g, m)}
spec:
  profile:
    displayName: User {g} {m}
  memberOf: [{team}]
"""
            )
        for i in members:
            word = WORDS[i % len(WORDS)]
            docs.append(
                f"""apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: {component_name(i)}
  description: Handles {word} for region {i % 7}
  tags: [{word}, region-{i % 7}]
  annotations:
    console.dev/tier: "{i % 4 + 1}"
spec:
  type: service
  lifecycle: {LIFECYCLES[i % 3]}
  owner: {team}
"""
            )
        path = os.path.join(out, "groups", f"{team}.yaml")
        with open(path, "w") as f:
            f.write("---\n".join(docs))
        targets.append(f"./groups/{team}.yaml")
    all_yaml = os.path.join(out, "all.yaml")
    with open(all_yaml, "w") as f:
        f.write(
            "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: bench-compare\n"
            "spec:\n  targets:\n" + "".join(f"    - {t}\n" for t in targets)
        )
    return all_yaml


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    n, g = sizes()
    if len(sys.argv) > 2:
        n = int(sys.argv[2])
    if len(sys.argv) > 3:
        g = int(sys.argv[3])
    print(write(sys.argv[1], n, g))
