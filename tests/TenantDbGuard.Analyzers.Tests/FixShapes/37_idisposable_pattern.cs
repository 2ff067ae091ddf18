using System;
using Prelude;

// Leak: released through IDisposable at the end only.
public sealed class Untyped
{
    public int Run(LeasePool pool)
    {
        object handle = pool.GetConnection();
        var rows = ((ConnectionLease)handle).Execute("select 1");
        if (handle is IDisposable disposable)
        {
            disposable.Dispose();
        }

        return rows;
    }
}
