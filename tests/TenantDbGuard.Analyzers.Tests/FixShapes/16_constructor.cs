using Prelude;

// Leak: the constructor keeps the connection when the query fails.
public sealed class SchemaVersion
{
    public SchemaVersion(Pool pool)
    {
        var conn = pool.GetConnection();
        Value = conn.Execute("select version from schema_info");
        conn.Release();
    }

    public int Value { get; }
}
