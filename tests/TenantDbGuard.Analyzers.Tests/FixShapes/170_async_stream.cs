using System.Collections.Generic;
using System.Threading.Tasks;
using Prelude;

// Leak: an async stream disposes its lease after the loop; a consumer that breaks early leaves it held.
public sealed class RowStream
{
    public async IAsyncEnumerable<int> ReadAsync(LeasePool pool, int pages)
    {
        var lease = await pool.GetConnectionAsync("acme");
        for (var page = 0; page < pages; page++)
        {
            yield return await lease.ExecuteAsync("select count(*) from rows where page = " + page);
        }

        await lease.DisposeAsync();
    }
}
