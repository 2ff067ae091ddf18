using System.Threading.Tasks;
using Prelude;

// Leak: the connection inside the expression is never released.
public sealed class Background
{
    public Task<int> CountAsync(Pool pool) => Task.Run(() => pool.GetConnection().Execute("select count(*) from sessions"));
}
