using Prelude;

// Leak: comments and blank lines everywhere; a failing second command skips the release.
public sealed class Commented
{
    /// <summary>Touches the tenant and counts it.</summary>
    /// <param name="pool">The tenant's pool.</param>
    /// <returns>The rows touched.</returns>
    public int Run(Pool pool)
    {
        // Take the connection.
        var conn = pool.GetConnection(); // one per call

        /* first: touch */
        var rows = conn.Execute("update tenants set seen = now()");

        // second: count
        rows += conn.Execute("select 1"); // may fail

        // Give it back.
        conn.Release(); // always?

        // Done.
        return rows;
    }
}
