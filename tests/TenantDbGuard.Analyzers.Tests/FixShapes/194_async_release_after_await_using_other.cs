using System.Threading.Tasks;
using Prelude;

// Leak: the lease's connection is disposed only after the work that can fail.
public sealed class Copier
{
    public async Task<int> CopyAsync(LeasePool pool, Pool other)
    {
        var lease = pool.GetConnection();
        var helper = await other.GetConnectionAsync();
        try
        {
            var n = await helper.ExecuteAsync("select 1");
            n += lease.Execute("insert into copies values (1)");
            lease.Dispose();
            return n;
        }
        finally
        {
            helper.Release();
        }
    }
}
