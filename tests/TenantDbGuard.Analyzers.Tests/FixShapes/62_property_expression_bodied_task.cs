using System.Threading.Tasks;
using Prelude;
// No safe fix: the returned task still uses the connection.
public sealed class S14
{
    private readonly Pool _pool = new Pool();
    public Task<int> Pending => _pool.GetConnection().ExecuteAsync("select 1");
}
