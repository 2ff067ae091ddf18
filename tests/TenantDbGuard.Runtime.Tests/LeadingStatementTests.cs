using TenantDbGuard.Core;

namespace TenantDbGuard.Runtime.Tests;

/// <summary>The statement in front of a helper's SQL, and the batch it keeps for the SQL it saw last.</summary>
public sealed class LeadingStatementTests
{
    [Fact]
    public void Each_batch_is_the_statement_followed_by_the_sql_it_was_asked_for_whatever_came_before()
    {
        var leading = new LeadingStatement("USE `t1`;");
        var first = "SELECT 1";
        var second = "SELECT 2";

        Assert.Equal("USE `t1`;SELECT 1", leading.Before(first));
        Assert.Equal("USE `t1`;SELECT 1", leading.Before(first));
        Assert.Equal("USE `t1`;SELECT 2", leading.Before(second));
        Assert.Equal("USE `t1`;SELECT 1", leading.Before(first));

        // The same text in another string object (SQL built at run time) is the same batch.
        Assert.Equal("USE `t1`;SELECT 1", leading.Before(string.Concat("SELECT ", "1")));
        Assert.Equal("USE `t1`;", leading.Text);
    }

    [Fact]
    public void The_same_sql_again_reuses_its_batch()
    {
        var leading = new LeadingStatement("USE `t1`;");
        var sql = "SELECT COUNT(*) FROM customers";

        Assert.Same(leading.Before(sql), leading.Before(sql));
    }

    [Fact]
    public void A_long_sql_gets_its_batch_and_is_not_kept_in_place_of_the_short_one()
    {
        var leading = new LeadingStatement("USE `t1`;");
        var shortSql = "SELECT 1";
        var longSql = "SELECT '" + new string('x', LeadingStatement.MaxKeptLength) + "'";
        var kept = leading.Before(shortSql);

        var longBatch = leading.Before(longSql);
        Assert.Equal("USE `t1`;" + longSql, longBatch);
        Assert.NotSame(longBatch, leading.Before(longSql));
        Assert.Same(kept, leading.Before(shortSql));
    }

    [Fact]
    public async Task Helpers_of_one_tenant_on_many_threads_each_get_the_batch_of_their_own_sql()
    {
        var leading = new LeadingStatement("USE `t1`;");
        var texts = Enumerable.Range(0, 8).Select(i => "SELECT " + i).ToArray();

        await Task.WhenAll(Enumerable.Range(0, 8).Select(worker => Task.Run(() =>
        {
            for (var i = 0; i < 20_000; i++)
            {
                var sql = texts[(worker + i) % texts.Length];
                Assert.Equal("USE `t1`;" + sql, leading.Before(sql));
            }
        })));
    }
}
