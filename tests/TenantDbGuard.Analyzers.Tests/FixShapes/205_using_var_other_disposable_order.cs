using System;
using System.IO;
using Prelude;

// Leak: the early return skips the release; a writer is disposed at the end of the method.
public sealed class Export
{
    public int Run(Pool pool, bool skip)
    {
        var conn = pool.GetConnection();
        using var writer = new StringWriter();
        writer.Write("x");
        if (skip)
        {
            return 0;
        }

        var n = conn.Execute("select 1");
        conn.Release();
        writer.Write(n);
        return writer.ToString().Length;
    }
}
