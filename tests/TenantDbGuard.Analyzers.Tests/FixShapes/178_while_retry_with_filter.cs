using System;
using Prelude;

// Leak: a retry loop releases in a filtered catch before retrying; the last failure escapes holding the connection.
public sealed class RetryingWriter
{
    public int Write(Pool pool)
    {
        var attempt = 0;
        while (true)
        {
            var conn = pool.GetConnection();
            try
            {
                var rows = conn.Execute("update jobs set state = 'done'");
                conn.Release();
                return rows;
            }
            catch (InvalidOperationException) when (attempt < 2)
            {
                conn.Release();
                attempt++;
            }
        }
    }
}
