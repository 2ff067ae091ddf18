// Correct: two tasks started from an async method, awaited together in a try whose finally releases each completed one.
using System.Threading.Tasks;
using Prelude;

public sealed class TwoLocals
{
    public async Task<int> RunAsync(Pool pool)
    {
        var a = pool.GetConnectionAsync();
        var b = pool.GetConnectionAsync();
        try
        {
            await Task.WhenAll(a, b);
            return a.Result.Execute("select 1") + b.Result.Execute("select 2");
        }
        finally
        {
            if (a.IsCompletedSuccessfully)
            {
                a.Result.Release();
            }

            if (b.IsCompletedSuccessfully)
            {
                b.Result.Release();
            }
        }
    }
}
