using System.Threading.Tasks;
using Prelude;

// Leak: a switch expression maps the count after the query; a failing query skips the release.
public sealed class PlanResolver
{
    public async Task<string> ResolveAsync(Pool pool, string tenant)
    {
        var conn = await pool.GetConnectionAsync();
        var seats = await conn.ExecuteAsync("select seats from plans where tenant = '" + tenant + "'");
        var plan = seats switch
        {
            0 => "free",
            < 10 => "team",
            _ => "enterprise",
        };
        conn.Release();
        return plan;
    }
}
