using Prelude;

// Leak: the result is a record struct built from the lease's answers; a failing second command skips the release.
public readonly record struct Counts(int Tenants, int Sessions);

public sealed class RecordCounts
{
    public Counts Run(Pool pool)
    {
        var conn = pool.GetConnection();
        var counts = new Counts(conn.Execute("select 1"), conn.Execute("select 2"));
        conn.Release();
        return counts with { Sessions = counts.Sessions + 1 };
    }
}
