using Prelude;

// Leak: interpolated SQL with nameof; a failing command leaves the lease out.
public sealed class Interpolated
{
    private const string Table = "tenants";

    public int Run(Pool pool, string tenant)
    {
        var conn = pool.GetConnection();
        var rows = conn.Execute($"update {Table} set seen = now() where tenant_key <> '{nameof(Interpolated)}'");
        Log.Info($"{nameof(Run)} touched {rows} for {tenant.Length}");
        conn.Release();
        return rows;
    }
}
