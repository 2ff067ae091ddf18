using Prelude;

// Leak: a second connection is taken while the first is held; a failure on the second leaks both.
public sealed class CrossTenantCopy
{
    public int Copy(Pool source, Pool target)
    {
        var from = source.GetConnection();
        var count = from.Execute("select count(*) from templates");
        var to = target.GetConnection();
        var rows = to.Execute("insert into templates select " + count);
        to.Release();
        from.Release();
        return rows;
    }
}
