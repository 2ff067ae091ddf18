using System;
using Prelude;

// Leak: a failure of the first statement leaves with the connection; the work after the release has a catch of its own.
public sealed class AfterRelease
{
    public int Run(Pool pool)
    {
        var conn = pool.GetConnection();
        var n = conn.Execute("select 1");
        conn.Release();
        try
        {
            n += int.Parse("12");
        }
        catch (FormatException)
        {
            n = -2;
        }

        return n;
    }
}
