using Prelude;

// Leak: two connections released at the end, in the wrong order for failures.
public sealed class TwoConnections
{
    public int Run(Pool master, Pool tenant)
    {
        var a = master.GetConnection();
        var b = tenant.GetConnection();
        var rows = a.Execute("select 1") + b.Execute("select 2");
        b.Release();
        a.Release();
        return rows;
    }
}
