using System;
using Prelude;

// Leak: the filtered catch returns without releasing.
public sealed class Filtered
{
    public int Run(LeasePool pool)
    {
        var lease = pool.GetConnection();
        try
        {
            var rows = lease.Execute("select 1");
            lease.Dispose();
            return rows;
        }
        catch (Exception ex) when (ex is InvalidOperationException or OperationCanceledException)
        {
            return -1;
        }
    }
}
