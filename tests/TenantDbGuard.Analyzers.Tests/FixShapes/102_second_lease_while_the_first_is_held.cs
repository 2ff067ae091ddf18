using Prelude;

// Leak: a second lease is taken while the first is held; its early return keeps both.
public sealed class Nested
{
    public int Run(Pool master, Pool tenant, bool quick)
    {
        var first = master.GetConnection();
        var key = first.Execute("select 1");
        var second = tenant.GetConnection();
        var rows = second.Execute("select 2") + key;
        if (quick)
        {
            return rows;
        }

        second.Release();
        first.Release();
        return rows;
    }
}
