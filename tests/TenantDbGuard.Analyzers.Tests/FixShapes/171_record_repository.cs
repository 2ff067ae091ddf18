using Prelude;

// Leak: a record holds the pool; its method releases only when the update touched a row.
public sealed record TenantRepository(Pool Pool)
{
    public int Rename(string tenant, string name)
    {
        var conn = Pool.GetConnection();
        var rows = conn.Execute("update tenants set name = '" + name + "' where id = '" + tenant + "'");
        if (rows > 0)
        {
            conn.Release();
        }

        return rows;
    }
}
