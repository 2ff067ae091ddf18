using TenantDbGuard.Core;

namespace TenantDbGuard.Runtime.Tests;

/// <summary>
/// What a tenant's row may name, decided without a server: the master database only where the master is (another
/// server's database of the same name is a tenant's like any other), and one place per server and database whatever the
/// spelling, so that two tenants on different servers are never taken for two tenants on one database.
/// </summary>
public sealed class TenantRowRulesTests
{
    private static readonly TenantRowRules Rules = new(new MasterLocation("db.internal", 3306, "tdg_master"), allowShared: false);

    [Theory]
    [InlineData("tdg_master", null, null)]
    [InlineData("TDG_MASTER", "  ", null)]
    [InlineData("tdg_master", "DB.INTERNAL", null)]
    [InlineData("tdg_master", null, 3306)]
    [InlineData("tdg_master", "db.internal", 3306)]
    public void The_master_database_on_the_master_server_is_refused(string database, string? host, int? port) =>
        Assert.Equal("is the master database, which holds the tenants table", Rules.Refusal(database, host, port));

    [Theory]
    [InlineData("tdg_master", "db2.internal", null)]
    [InlineData("tdg_master", null, 3307)]
    [InlineData("tdg_master", "db2.internal", 3306)]
    [InlineData("tdg_master", "db.internal", 3307)]
    public void A_database_named_like_the_master_on_another_server_is_a_tenant_database(string database, string? host, int? port) =>
        Assert.Null(Rules.Refusal(database, host, port));

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    public void A_row_that_names_no_database_is_refused(string database) =>
        Assert.Equal("is empty: the row names no database", Rules.Refusal(database, null, null));

    [Theory]
    [InlineData("mysql")]
    [InlineData("Information_Schema")]
    [InlineData("performance_schema")]
    [InlineData("SYS")]
    public void A_system_schema_is_refused_on_any_server(string database) =>
        Assert.Equal("is a system schema of the server", Rules.Refusal(database, "db2.internal", 3307));

    [Theory]
    [InlineData("t1", null, null, "t1", "DB.INTERNAL", 3306)]
    [InlineData("t1", " ", null, "T1", "db.internal", null)]
    [InlineData("t1", "", 3306, "t1", null, null)]
    public void Spellings_of_one_server_and_database_are_one_place(string database, string? host, int? port, string otherDatabase, string? otherHost, int? otherPort) =>
        Assert.Equal(Rules.Place(database, host, port), Rules.Place(otherDatabase, otherHost, otherPort));

    [Theory]
    [InlineData("t1", null, null, "t1", "db2.internal", null)]
    [InlineData("t1", "db2.internal", null, "t1", "db3.internal", null)]
    [InlineData("t1", null, null, "t1", null, 3307)]
    [InlineData("t1", "h1", 23306, "t1", "h12", 3306)]
    [InlineData("1t", "h", 3306, "t", "h", 33061)]
    public void Different_servers_are_different_places(string database, string? host, int? port, string otherDatabase, string? otherHost, int? otherPort) =>
        Assert.NotEqual(Rules.Place(database, host, port), Rules.Place(otherDatabase, otherHost, otherPort));
}
