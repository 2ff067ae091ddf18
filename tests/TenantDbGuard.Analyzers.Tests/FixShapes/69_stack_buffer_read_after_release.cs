using System;
using Prelude;

// Leak: an early return skips the release; a span on the stack is read after it.
public sealed class Digest
{
    public int First(Pool pool, bool early)
    {
        var conn = pool.GetConnection();
        Span<byte> buffer = stackalloc byte[4];
        buffer[0] = (byte)conn.Execute("select 1");
        if (early)
        {
            return 0;
        }

        conn.Release();
        Log.Info("digested");
        return buffer[0];
    }
}
