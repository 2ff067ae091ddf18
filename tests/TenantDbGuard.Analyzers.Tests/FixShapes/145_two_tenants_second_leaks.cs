using Prelude;

// Leak: the first tenant's lease is under using; the second tenant's is released at the end, after a command that can fail.
public sealed class TwoTenants
{
    public int Run(LeasePool first, Pool second)
    {
        using var a = first.GetConnection();
        var b = second.GetConnection();
        var rows = a.Execute("select 1");
        rows += b.Execute("select 2");
        b.Release();
        return rows;
    }
}
