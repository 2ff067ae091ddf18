// Correct: an array of tasks from the pool (an async method), awaited in a try whose finally releases each completed one.
using System.Linq;
using System.Threading.Tasks;
using Prelude;

public sealed class FanoutPool
{
    public async Task<int> RunAsync(Pool pool)
    {
        var tasks = new[] { pool.GetConnectionAsync(), pool.GetConnectionAsync() };
        try
        {
            var conns = await Task.WhenAll(tasks);
            return conns.Sum(c => c.Execute("select 1"));
        }
        finally
        {
            foreach (var t in tasks)
            {
                if (t.IsCompletedSuccessfully)
                {
                    t.Result.Release();
                }
            }
        }
    }
}
