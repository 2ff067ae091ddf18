using System;
using Prelude;

// Leak: the general catch returns without releasing.
public sealed class TwoCatches
{
    public int Run(Pool pool, int mode)
    {
        var conn = pool.GetConnection();
        try
        {
            if (mode == 2)
            {
                throw new ArgumentException("mode");
            }

            var n = conn.Execute("select 1");
            conn.Release();
            return n;
        }
        catch (InvalidOperationException)
        {
            conn.Release();
            throw;
        }
        catch (Exception)
        {
            return -1;
        }
    }
}
