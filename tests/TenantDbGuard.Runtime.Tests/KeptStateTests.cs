using TenantDbGuard.Core;

namespace TenantDbGuard.Runtime.Tests;

/// <summary>
/// Which helper SQL can leave or read what the server's reset keeps (an XA transaction, a role, the profiling history,
/// <c>FOUND_ROWS()</c>, or a stored routine that may): those leases are cleared of it before their reset; any other
/// helper skips that round trip. No server.
/// </summary>
public sealed class KeptStateTests
{
    [Theory]
    [InlineData("XA START 'x'")]
    [InlineData("xa end 'x'; xa prepare 'x'")]
    [InlineData("XA\tRECOVER")]
    [InlineData("SET ROLE reporting")]
    [InlineData("set   role NONE")]
    [InlineData("SET profiling = 1")]
    [InlineData("SELECT * FROM information_schema.PROFILING")]
    [InlineData("SHOW PROFILES; SET @@profiling_history_size = 0; SET @@session.profiling=1")]
    [InlineData("CALL archive_orders(@cutoff)")]
    [InlineData("SELECT FOUND_ROWS()")]
    [InlineData("PREPARE s FROM 'SET ROLE admin'; EXECUTE s")]
    [InlineData("XA/**/START 'x'")]
    [InlineData("SET /* for the report */ ROLE reporting")]
    [InlineData("SET\n\tROLE reporting")]
    [InlineData("/*!80000 SET ROLE reporting */")]
    [InlineData("SET -- the report's role\nROLE reporting")]
    [InlineData("set # the report's role\r\nrole reporting")]
    [InlineData("EXECUTE IMMEDIATE @statement")]
    [InlineData("PREPARE s FROM @statement; execute s")]
    [InlineData("SET /*!ROLE reporting*/")]
    [InlineData("SET /*M!100000 ROLE reporting*/")]
    [InlineData("/*!SET*/ ROLE reporting")]
    [InlineData("/*!50000 SELECT 1 */")]
    [InlineData("SHOW PROFILES")]
    [InlineData("show profile cpu for query 2")]
    [InlineData("SHOW /* the last ones */ PROFILES")]
    public void Sql_that_can_leave_or_read_what_the_reset_keeps_is_recognised(string sql) => Assert.True(KeptState.Touches(sql));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("SELECT COUNT(*) FROM customers")]
    [InlineData("SELECT role FROM users WHERE id = @id")]
    [InlineData("UPDATE users SET role = @role WHERE id = @id")]
    [InlineData("SELECT * FROM taxable_items WHERE exact = 1")]
    [InlineData("SELECT SQL_CALC_FOUND_ROWS * FROM orders LIMIT 10")]
    [InlineData("SELECT recall, callback_url FROM hooks")]
    [InlineData("INSERT INTO profiling_runs (name) VALUES ('x')")]
    [InlineData("UPDATE users SET -- the new role\nrole = @role WHERE id = @id")]
    [InlineData("SET -- role\n@x = 1")]
    [InlineData("SELECT executed_at FROM jobs")]
    [InlineData("SELECT name FROM taxa WHERE id = 1")]
    [InlineData("SELECT xact_id FROM ledger")]
    [InlineData("SELECT asset role FROM holdings")]
    [InlineData("UPDATE users SET role_id = @role WHERE id = @id")]
    [InlineData("UPDATE users SET role=@role WHERE id = @id")]
    [InlineData("SELECT @@have_profiling")]
    [InlineData("SELECT found_rows_total FROM stats")]
    [InlineData("SELECT can_execute FROM permissions")]
    [InlineData("SELECT * FROM profiles WHERE user_id = @id")]
    [InlineData("SELECT profile_id FROM users")]
    [InlineData("SHOW TABLES LIKE 'profiles'")]
    [InlineData("SELECT 1 /* ! a note, not code */")]
    public void Sql_that_cannot_is_not(string? sql) => Assert.False(KeptState.Touches(sql));

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_long_text_of_unclosed_comments_is_read_without_error(bool endsWithRole)
    {
        // Every SET followed by an unclosed comment could make the pattern scan to the end of the text again.
        var sql = string.Concat(System.Linq.Enumerable.Repeat("SET /* ", 60_000)) + (endsWithRole ? "*/ ROLE admin" : string.Empty);
        Assert.Equal(endsWithRole, KeptState.Touches(sql));
    }

    [Fact]
    public void A_text_the_pattern_cannot_read_in_time_is_taken_to_touch_it()
    {
        // Five times the text above, with a ROLE at its end that no comment closes before: every SET scans to the end
        // for the comment's close, far longer than the pattern's second; what it could not read may hold SET ROLE.
        var sql = string.Concat(System.Linq.Enumerable.Repeat("SET /* ", 300_000)) + "ROLE admin";
        Assert.True(KeptState.Touches(sql));
    }
}
