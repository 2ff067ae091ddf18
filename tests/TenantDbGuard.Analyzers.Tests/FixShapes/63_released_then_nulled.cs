using System;
using Prelude;

// Leak: released and cleared at the end, not when the update fails.
public sealed class Cleanup
{
    public void Run(Pool pool, bool fail)
    {
        var conn = pool.GetConnection();
        conn.Execute("update queue set done = 1");
        if (fail)
        {
            throw new InvalidOperationException("the queue is locked");
        }

        conn.Release();
        conn = null;
        Log.Info("queue cleaned");
    }
}
