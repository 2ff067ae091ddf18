using System;
using Prelude;

// Leak: an exception that the filter does not take leaves with the connection.
public sealed class Filtered
{
    public int Run(Pool pool, int mode)
    {
        var conn = pool.GetConnection();
        try
        {
            var n = conn.Execute("update counters set n = n + 1");
            if (mode == 1)
            {
                throw new ArgumentException("mode");
            }

            conn.Release();
            return n;
        }
        catch (InvalidOperationException ex) when (ex.Message.Length > 0)
        {
            conn.Release();
            return -1;
        }
    }
}
