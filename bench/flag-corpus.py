#!/usr/bin/env python3
"""Writes a small code base of methods that guard one release with many 'released' flags, for AnalyzerCost.

usage: python3 bench/flag-corpus.py FOLDER [N ...]   (default N: 8 10 12 14 16)

Each Flags<N>.cs holds one method that takes a connection, sets one of N flags on each of N branches, and releases
the connection on both sides of one test of all the flags: the worst case of the flow analysis's visited set.
"""
import os
import sys

PRELUDE = '''namespace Patho
{
    public sealed class PooledConnection
    {
        public int Execute(string sql) => 0;
        public void Release() { }
    }

    public sealed class Pool
    {
        public PooledConnection GetConnection() => new PooledConnection();
    }
}
'''


def method(n):
    lines = [f"namespace Patho {{ public sealed class Flags{n} {{",
             "    public void Run(Pool pool, bool[] f)",
             "    {",
             "        var c = pool.GetConnection();",
             "        bool " + ", ".join(f"r{i} = false" for i in range(n)) + ";"]
    lines += [f"        if (f[{i}]) {{ c.Execute(\"step {i}\"); r{i} = true; }}" for i in range(n)]
    lines += ["        if (" + " || ".join(f"r{i}" for i in range(n)) + ") c.Release(); else c.Release();",
              "    }",
              "} }"]
    return "\n".join(lines) + "\n"


def main():
    if len(sys.argv) < 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    folder = sys.argv[1]
    sizes = [int(a) for a in sys.argv[2:]] or [8, 10, 12, 14, 16]
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "Prelude.cs"), "w") as f:
        f.write(PRELUDE)
    for n in sizes:
        with open(os.path.join(folder, f"Flags{n}.cs"), "w") as f:
            f.write(method(n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
