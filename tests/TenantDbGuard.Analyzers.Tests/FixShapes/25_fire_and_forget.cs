using System.Threading.Tasks;
using Prelude;

// No safe fix: the task that is not awaited still uses the connection.
public sealed class FireAndForget
{
    public Task Start(Pool pool)
    {
        var conn = pool.GetConnection();
        var work = Task.Run(() => conn.Execute("delete from queue where done = 1"));
        conn.Execute("select 1");
        return work;
    }
}
