using System.Linq;
using Microsoft.CodeAnalysis.Testing;
using Verify = TenantDbGuard.Analyzers.Tests.Verifiers.CSharpAnalyzerVerifier<TenantDbGuard.Analyzers.ConnectionLeakAnalyzer>;

namespace TenantDbGuard.Analyzers.Tests;

/// <summary>
/// What a branch's condition proves about the connection (TDG001, TDG004): a null test in any spelling, a <c>State</c>
/// test (operands either way round, <c>is</c> patterns, negations, property patterns, <c>?.</c>), a 'released' flag, and
/// an ownership test a method repeats. Each shape is paired with its opposite, which must be reported.
/// </summary>
public sealed class ConnectionLeakConditionTests
{
    // ---------------------------------------------------------------- State tests on an open connection

    private static string ClosedInFinallyUnder(string condition) => $$"""
        using System.Data;
        using MySqlConnector;

        class C
        {
            int M(string cs)
            {
                var conn = new MySqlConnection(cs);
                try
                {
                    {|#0:conn.Open()|};
                    using var cmd = new MySqlCommand("delete from sessions", conn);
                    return cmd.ExecuteNonQuery();
                }
                finally
                {
                    if ({{condition}})
                    {
                        conn.Close();
                    }
                }
            }
        }
        """;

    [Theory]
    [InlineData("conn.State == ConnectionState.Open")]
    [InlineData("ConnectionState.Open == conn.State")]
    [InlineData("conn.State != ConnectionState.Closed")]
    [InlineData("ConnectionState.Closed != conn.State")]
    [InlineData("!(conn.State == ConnectionState.Closed)")]
    [InlineData("!(conn.State != ConnectionState.Open)")]
    [InlineData("conn.State is ConnectionState.Open")]
    [InlineData("conn.State is not ConnectionState.Closed")]
    [InlineData("!(conn.State is ConnectionState.Closed)")]
    [InlineData("conn.State is ConnectionState.Open or ConnectionState.Executing")]
    [InlineData("conn.State is not (ConnectionState.Closed or ConnectionState.Broken)")]
    [InlineData("conn is { State: ConnectionState.Open }")]
    [InlineData("conn is { State: not ConnectionState.Closed }")]
    [InlineData("conn?.State == ConnectionState.Open")]
    [InlineData("conn != null && conn.State == ConnectionState.Open")]
    [InlineData("conn.State == ConnectionState.Open || conn.State == ConnectionState.Broken")]
    [InlineData("(conn.State == ConnectionState.Closed) == false")]
    [InlineData("conn.State is not ConnectionState.Closed and not ConnectionState.Broken")]
    [InlineData("conn is not null and { State: ConnectionState.Open }")]
    [InlineData("conn is MySqlConnection { State: ConnectionState.Open } open")]
    [InlineData("conn is { Database: \"tenants\" } or { State: ConnectionState.Open }")]
    [InlineData("true == (conn.State is ConnectionState.Open)")]
    [InlineData("conn is MySqlConnection and { State: ConnectionState.Open }")]
    [InlineData("conn is System.Data.Common.DbConnection db and { State: not ConnectionState.Closed }")]
    public Task Close_under_a_State_test_that_holds_whenever_the_connection_is_open_is_not_reported(string condition) =>
        Verify.VerifyAnalyzerAsync(ClosedInFinallyUnder(condition).Replace("{|#0:conn.Open()|}", "conn.Open()"));

    [Theory]
    [InlineData("conn.State == ConnectionState.Closed")]
    [InlineData("ConnectionState.Closed == conn.State")]
    [InlineData("conn.State != ConnectionState.Open")]
    [InlineData("ConnectionState.Open != conn.State")]
    [InlineData("!(conn.State == ConnectionState.Open)")]
    [InlineData("!(conn.State != ConnectionState.Closed)")]
    [InlineData("conn.State is ConnectionState.Closed")]
    [InlineData("conn.State is not ConnectionState.Open")]
    [InlineData("!(conn.State is ConnectionState.Open)")]
    [InlineData("conn.State is ConnectionState.Closed or ConnectionState.Broken")]
    [InlineData("conn is { State: ConnectionState.Closed }")]
    [InlineData("conn?.State == ConnectionState.Broken")]
    [InlineData("conn.State == ConnectionState.Broken && conn.State == ConnectionState.Open")]
    [InlineData("(conn.State == ConnectionState.Open) == false")]
    [InlineData("(conn.State is ConnectionState.Closed) != false")]
    [InlineData("conn.State is not ConnectionState.Open and not ConnectionState.Broken")]
    [InlineData("conn is { State: ConnectionState.Open, Database: \"tenants\" }")]
    [InlineData("conn is { State: ConnectionState.Open } and { Database: \"tenants\" }")]
    [InlineData("conn is { Database: \"tenants\" } or { State: ConnectionState.Closed }")]
    [InlineData("(cs.Length > 0 ? ConnectionState.Broken : conn.State) == ConnectionState.Open")]
    [InlineData("(cs.Length > 0 ? conn.State : ConnectionState.Broken) == ConnectionState.Open")]
    public Task Close_under_a_State_test_that_fails_for_an_open_connection_is_reported(string condition) =>
        Verify.VerifyAnalyzerAsync(ClosedInFinallyUnder(condition),
            Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 13"));

    [Theory]
    [InlineData("conn is System.IDisposable disposable")]
    [InlineData("conn is System.Data.Common.DbConnection")]
    [InlineData("conn is System.ComponentModel.Component { }")]
    [InlineData("conn is MySqlConnection")]
    [InlineData("(object)conn is System.IDisposable disposable")]
    [InlineData("(object)conn is System.Data.IDbConnection")]
    [InlineData("(object)conn is not System.IAsyncDisposable ? false : true")]
    public Task Close_under_a_type_test_that_every_connection_passes_is_not_reported(string condition) =>
        Verify.VerifyAnalyzerAsync(ClosedInFinallyUnder(condition).Replace("{|#0:conn.Open()|}", "conn.Open()"));

    [Theory]
    [InlineData("(object)conn is System.IServiceProvider")]
    [InlineData("(object)conn is System.IO.Stream stream")]
    public Task Close_under_a_type_test_that_no_connection_passes_is_reported(string condition) =>
        Verify.VerifyAnalyzerAsync(ClosedInFinallyUnder(condition),
            Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 13"));

    private static string ReleasedFromAnObjectVariable(string release) => $$"""
        using System;
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            async Task<int> M(MySqlDataSource dataSource)
            {
                object holder = await {|#0:dataSource.OpenConnectionAsync()|};
                try
                {
                    return 1;
                }
                finally
                {
                    {{release}}
                }
            }
        }
        """;

    [Theory]
    [InlineData("if (holder is IAsyncDisposable disposable) { await disposable.DisposeAsync(); }")]
    [InlineData("if (holder is not IAsyncDisposable disposable) { throw new InvalidOperationException(); } await disposable.DisposeAsync();")]
    [InlineData("if (holder is MySqlConnection { } connection) { await connection.DisposeAsync(); }")]
    [InlineData("await ((IAsyncDisposable)holder).DisposeAsync();")]
    public Task Release_through_a_type_test_on_an_object_variable_holding_the_connection_is_not_reported(string release) =>
        Verify.VerifyAnalyzerAsync(ReleasedFromAnObjectVariable(release).Replace("{|#0:dataSource.OpenConnectionAsync()|}", "dataSource.OpenConnectionAsync()"));

    [Theory]
    [InlineData("if (holder is IServiceProvider provider) { ((IDisposable)provider).Dispose(); }")]
    [InlineData("if (holder is System.IO.Stream stream) { await stream.DisposeAsync(); }")]
    public Task Release_under_a_type_test_no_connection_passes_on_an_object_variable_is_reported(string release) =>
        Verify.VerifyAnalyzerAsync(ReleasedFromAnObjectVariable(release),
            Verify.Diagnostic().WithLocation(0).WithArguments("'holder'", "on the path that returns at line 12"));

    // ---------------------------------------------------------------- null tests

    private static string ReleasedInFinallyUnder(string condition) => $$"""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                PooledConnection conn = null;
                try
                {
                    conn = {|#0:pool.GetConnection()|};
                    return conn.Execute("select 1");
                }
                finally
                {
                    if ({{condition}})
                    {
                        conn.Release();
                    }
                }
            }
        }
        """;

    [Theory]
    [InlineData("conn != null")]
    [InlineData("null != conn")]
    [InlineData("(object)conn != null")]
    [InlineData("conn is not null")]
    [InlineData("!(conn is null)")]
    [InlineData("!(conn == null)")]
    [InlineData("!(null == conn)")]
    [InlineData("conn is { }")]
    [InlineData("conn is object")]
    [InlineData("conn is PooledConnection")]
    [InlineData("conn is PooledConnection c")]
    [InlineData("!(conn is not { })")]
    public Task Release_under_a_test_that_the_connection_is_not_null_is_not_reported(string condition) =>
        Verify.VerifyAnalyzerAsync(ReleasedInFinallyUnder(condition).Replace("{|#0:pool.GetConnection()|}", "pool.GetConnection()"));

    [Theory]
    [InlineData("conn == null")]
    [InlineData("null == conn")]
    [InlineData("conn is null")]
    [InlineData("!(conn != null)")]
    [InlineData("!(null != conn)")]
    [InlineData("!(conn is not null)")]
    [InlineData("conn is not { }")]
    [InlineData("conn is not PooledConnection")]
    [InlineData("!(conn is { })")]
    [InlineData("conn is string")]
    public Task Release_under_a_test_that_the_connection_is_null_is_reported(string condition) =>
        Verify.VerifyAnalyzerAsync(ReleasedInFinallyUnder(condition).Replace("conn is string", "(object)conn is string"),
            Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 11"));

    private static string ReturnsEarlyUnder(string condition) => $$"""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = {|#0:pool.GetConnection()|};
                if ({{condition}})
                {
                    return 0;
                }

                try
                {
                    return conn.Execute("select 1");
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """;

    [Theory]
    [InlineData("conn == null")]
    [InlineData("null == conn")]
    [InlineData("conn is null")]
    [InlineData("!(conn != null)")]
    [InlineData("conn is not { }")]
    [InlineData("conn is not PooledConnection")]
    public Task Early_return_when_the_connection_is_null_is_not_reported(string condition) =>
        Verify.VerifyAnalyzerAsync(ReturnsEarlyUnder(condition).Replace("{|#0:pool.GetConnection()|}", "pool.GetConnection()"));

    [Theory]
    [InlineData("conn != null")]
    [InlineData("null != conn")]
    [InlineData("conn is not null")]
    [InlineData("!(conn == null)")]
    [InlineData("conn is { }")]
    [InlineData("conn is PooledConnection")]
    public Task Early_return_when_the_connection_is_not_null_is_reported(string condition) =>
        Verify.VerifyAnalyzerAsync(ReturnsEarlyUnder(condition),
            Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 10"));

    // ---------------------------------------------------------------- a property or positional pattern on a holder

    private static string ReleasedUnderAPatternOnTheHolder(string body) => $$"""
        using MySqlConnector;

        sealed record Scope(MySqlConnection Connection, string Tenant);

        class C
        {
            void M(MySqlDataSource ds, string tenant)
            {
                {{body}}
            }
        }
        """;

    /// <summary>
    /// <c>x is { P: var c }</c> and <c>x is (var a, _)</c>, whose subpatterns are all <c>var</c> or discards, fail only
    /// when <c>x</c> is null: on an object the method made, never; on a local left null until the acquisition, only on
    /// the path that acquired nothing.
    /// </summary>
    [Theory]
    [InlineData("var scope = new Scope(ds.OpenConnection(), tenant);\n        if (scope is { Connection: var c }) c.Dispose();")]
    [InlineData("var scope = new Scope(ds.OpenConnection(), tenant);\n        if (scope is (var c, _)) c.Dispose();")]
    [InlineData("var scope = new Scope(ds.OpenConnection(), tenant);\n        if (scope is (var c, var t)) c.Dispose();")]
    [InlineData("var scope = new Scope(ds.OpenConnection(), tenant);\n        if (scope is { Connection: var c, Tenant: _ }) c.Dispose();")]
    [InlineData("var scope = new Scope(ds.OpenConnection(), tenant);\n        if (scope is not { Connection: var c }) return;\n        c.Dispose();")]
    [InlineData("var scope = new Scope(ds.OpenConnection(), tenant);\n        if (!(scope is { Connection: var c })) return;\n        c.Dispose();")]
    [InlineData("var scope = new Scope(ds.OpenConnection(), tenant);\n        try\n        {\n            scope.Connection.Ping();\n        }\n        finally\n        {\n            if (scope is { Connection: var c }) c.Dispose();\n        }")]
    [InlineData("var scope = new Scope(ds.OpenConnection(), tenant);\n        try\n        {\n            scope.Connection.Ping();\n        }\n        finally\n        {\n            if (scope is (var c, _)) c.Dispose();\n        }")]
    [InlineData("Scope? scope = null;\n        try\n        {\n            scope = new Scope(ds.OpenConnection(), tenant);\n            scope.Connection.Ping();\n        }\n        finally\n        {\n            if (scope is { Connection: var c }) c.Dispose();\n        }")]
    [InlineData("Scope? scope = null;\n        try\n        {\n            scope = new Scope(ds.OpenConnection(), tenant);\n            scope.Connection.Ping();\n        }\n        finally\n        {\n            if (scope is (var c, _)) c.Dispose();\n        }")]
    [InlineData("Scope? scope = null;\n        try\n        {\n            scope = new Scope(ds.OpenConnection(), tenant);\n            scope.Connection.Ping();\n        }\n        finally\n        {\n            if (scope is not { Connection: var c }) { } else c.Dispose();\n        }")]
    [InlineData("Scope? primary = null;\n        Scope? fallback = null;\n        try\n        {\n            if (tenant.Length > 0) primary = new Scope(ds.OpenConnection(), tenant);\n            else fallback = new Scope(ds.OpenConnection(), tenant);\n        }\n        finally\n        {\n            if (primary is { Connection: var c }) c.Dispose();\n            else if (fallback is (var d, _)) d.Dispose();\n        }")]
    public Task Release_under_a_pattern_that_fails_only_on_null_on_the_holder_is_not_reported(string body) =>
        Verify.VerifyAnalyzerAsync(ReleasedUnderAPatternOnTheHolder(body));

    /// <summary>
    /// A subpattern that can fail on an object that is there (a constant, a type or null test of a member): its false
    /// side is a path on which the connection is still held.
    /// </summary>
    [Theory]
    [InlineData("var scope = new Scope({|#0:ds.OpenConnection()|}, tenant);\n        if (scope is { Tenant: \"a\", Connection: var c }) c.Dispose();", "leaves the method after line 10")]
    [InlineData("var scope = new Scope({|#0:ds.OpenConnection()|}, tenant);\n        if (scope is (var c, \"a\")) c.Dispose();", "leaves the method after line 10")]
    [InlineData("var scope = new Scope({|#0:ds.OpenConnection()|}, tenant);\n        if (scope is { Tenant.Length: > 0, Connection: var c }) c.Dispose();", "leaves the method after line 10")]
    [InlineData("var scope = new Scope({|#0:ds.OpenConnection()|}, tenant);\n        if (scope is { Connection: var c } && tenant.Length > 0) c.Dispose();", "leaves the method after line 10")]
    [InlineData("var scope = new Scope({|#0:ds.OpenConnection()|}, tenant);\n        if (scope is { Connection: var c }) { }\n        else scope.Connection.Dispose();", "leaves the method after line 10")]
    [InlineData("Scope? scope = null;\n        try\n        {\n            scope = new Scope({|#0:ds.OpenConnection()|}, tenant);\n            scope.Connection.Ping();\n        }\n        finally\n        {\n            if (scope is { Tenant: \"a\", Connection: var c }) c.Dispose();\n        }", "leaves the method after line 13")]
    [InlineData("var scope = new Scope({|#0:ds.OpenConnection()|}, tenant);\n        if (scope is { Tenant.Length: var n, Connection: var c }) c.Dispose();", "leaves the method after line 10")]
    [InlineData("var scope = new Scope({|#0:ds.OpenConnection()|}, tenant);\n        if (scope is { Connection: not null and var c }) c.Dispose();", "leaves the method after line 10")]
    [InlineData("Scope? primary = null;\n        Scope? fallback = null;\n        try\n        {\n            if (tenant.Length > 0) primary = new Scope(ds.OpenConnection(), tenant);\n            else fallback = new Scope({|#0:ds.OpenConnection()|}, tenant);\n        }\n        finally\n        {\n            if (primary is { Connection: var c }) c.Dispose();\n        }", "leaves the method after line 14")]
    public Task Release_under_a_pattern_that_can_fail_on_the_holder_is_reported(string body, string path) =>
        Verify.VerifyAnalyzerAsync(ReleasedUnderAPatternOnTheHolder(body),
            Verify.Diagnostic().WithLocation(0).WithArguments("The result of 'OpenConnection'", "on the path that " + path));

    // ---------------------------------------------------------------- State tests after a release (TDG004)

    private static string ClosedAfterDisposeUnder(string condition) => $$"""
        using System.Data;
        using MySqlConnector;

        class C
        {
            void M(string cs)
            {
                var conn = new MySqlConnection(cs);
                conn.Open();
                {|#1:conn.Dispose()|};
                if ({{condition}})
                {
                    {|#0:conn.Close()|};
                }
            }
        }
        """;

    [Theory]
    [InlineData("conn.State == ConnectionState.Open")]
    [InlineData("ConnectionState.Open == conn.State")]
    [InlineData("conn.State != ConnectionState.Closed")]
    [InlineData("!(conn.State == ConnectionState.Closed)")]
    [InlineData("conn.State is ConnectionState.Open")]
    [InlineData("conn.State is not ConnectionState.Closed")]
    [InlineData("!(conn.State is ConnectionState.Closed)")]
    [InlineData("conn.State is ConnectionState.Open or ConnectionState.Executing")]
    [InlineData("conn is { State: ConnectionState.Open }")]
    [InlineData("conn?.State == ConnectionState.Open")]
    public Task Close_of_a_disposed_connection_under_a_test_that_it_is_open_is_not_reported(string condition) =>
        Verify.VerifyAnalyzerAsync(ClosedAfterDisposeUnder(condition).Replace("{|#1:conn.Dispose()|}", "conn.Dispose()").Replace("{|#0:conn.Close()|}", "conn.Close()"));

    [Theory]
    [InlineData("conn.State == ConnectionState.Closed")]
    [InlineData("ConnectionState.Closed == conn.State")]
    [InlineData("conn.State != ConnectionState.Open")]
    [InlineData("!(conn.State == ConnectionState.Open)")]
    [InlineData("conn.State is ConnectionState.Closed")]
    [InlineData("conn.State is not ConnectionState.Open")]
    [InlineData("conn is { State: ConnectionState.Closed }")]
    public Task Close_of_a_disposed_connection_under_a_test_that_it_is_closed_is_reported(string condition) =>
        Verify.VerifyAnalyzerAsync(ClosedAfterDisposeUnder(condition),
            Verify.Diagnostic(Descriptors.ConnectionUsedAfterRelease).WithLocation(0).WithLocation(1)
                .WithArguments("'conn'", "is released again at line 13 after it was released at line 10"));

    // ---------------------------------------------------------------- an ownership test repeated in 'finally'

    private static string OwnedUnder(string acquisition, string condition) => $$"""
        using MySqlConnector;

        sealed class OutboxStore
        {
            private readonly MySqlDataSource _dataSource;
            private readonly MySqlConnection? _external;

            public OutboxStore(MySqlDataSource dataSource, MySqlConnection? external)
            {
                _dataSource = dataSource;
                _external = external;
            }

            public long Count()
            {
                var conn = {{acquisition.Replace("OPEN", "{|#0:_dataSource.OpenConnection()|}")}};
                var owned = _external is null;
                var borrowed = _external != null;
                try
                {
                    using var cmd = new MySqlCommand("select count(*) from outbox", conn);
                    return (long)cmd.ExecuteScalar()!;
                }
                finally
                {
                    if ({{condition}})
                    {
                        conn.Dispose();
                    }
                }
            }
        }
        """;

    [Theory]
    [InlineData("_external ?? OPEN", "_external == null")]
    [InlineData("_external ?? OPEN", "null == _external")]
    [InlineData("_external ?? OPEN", "_external is null")]
    [InlineData("_external ?? OPEN", "!(_external != null)")]
    [InlineData("_external ?? OPEN", "!(_external is not null)")]
    [InlineData("_external ?? OPEN", "owned")]
    [InlineData("_external ?? OPEN", "!borrowed")]
    [InlineData("_external ?? OPEN", "!!owned")]
    [InlineData("_external ?? OPEN", "owned == true")]
    [InlineData("_external ?? OPEN", "false == borrowed")]
    [InlineData("_external ?? OPEN", "(_external == null) != false")]
    [InlineData("_external is null ? OPEN : _external", "owned")]
    [InlineData("_external is not null ? _external : OPEN", "_external is null")]
    [InlineData("null != _external ? _external : OPEN", "null == _external")]
    [InlineData("!(_external == null) ? _external : OPEN", "!borrowed")]
    [InlineData("this._external ?? OPEN", "this._external == null")]
    [InlineData("_external ?? OPEN", "conn != _external")]
    [InlineData("_external ?? OPEN", "_external != conn")]
    [InlineData("_external ?? OPEN", "!(conn == _external)")]
    [InlineData("_external ?? OPEN", "!ReferenceEquals(conn, _external)")]
    [InlineData("_external is null ? OPEN : _external", "!object.ReferenceEquals(_external, conn)")]
    [InlineData("_external ?? OPEN", "!Equals(conn, _external)")]
    [InlineData("_external ?? OPEN", "!object.Equals(_external, conn)")]
    [InlineData("_external ?? OPEN", "_external == default")]
    public Task Release_under_a_repeated_test_that_proves_the_method_opened_it_is_not_reported(string acquisition, string condition) =>
        Verify.VerifyAnalyzerAsync(OwnedUnder(acquisition, condition).Replace("{|#0:_dataSource.OpenConnection()|}", "_dataSource.OpenConnection()"));

    [Theory]
    [InlineData("_external ?? OPEN", "_external != null")]
    [InlineData("_external ?? OPEN", "null != _external")]
    [InlineData("_external ?? OPEN", "_external is not null")]
    [InlineData("_external ?? OPEN", "!(_external == null)")]
    [InlineData("_external ?? OPEN", "!(_external is null)")]
    [InlineData("_external ?? OPEN", "!owned")]
    [InlineData("_external ?? OPEN", "borrowed")]
    [InlineData("_external ?? OPEN", "owned == false")]
    [InlineData("_external ?? OPEN", "true != owned")]
    [InlineData("_external ?? OPEN", "(_external == null) == false")]
    [InlineData("_external is null ? OPEN : _external", "!owned")]
    [InlineData("_external is not null ? _external : OPEN", "_external is not null")]
    [InlineData("null != _external ? _external : OPEN", "null != _external")]
    [InlineData("_external ?? OPEN", "conn == _external")]
    [InlineData("_external ?? OPEN", "ReferenceEquals(_external, conn)")]
    [InlineData("_external ?? OPEN", "Equals(conn, _external)")]
    [InlineData("_external ?? OPEN", "(object)_dataSource == _external")]
    public Task Release_under_a_repeated_test_that_proves_the_connection_is_borrowed_is_reported(string acquisition, string condition) =>
        Verify.VerifyAnalyzerAsync(OwnedUnder(acquisition, condition),
            Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 22"));

    [Theory]
    [InlineData("lease != _external")]
    [InlineData("!Equals(lease, _external)")]
    [InlineData("!object.Equals(_external, lease)")]
    [InlineData("!object.Equals(lease, _marker)")]
    public Task Release_of_what_is_not_the_borrowed_lease_under_a_user_defined_comparison_is_reported(string condition) => Verify.VerifyAnalyzerAsync($$"""
        using Prelude;

        sealed class Lease
        {
            private readonly PooledConnection _c;
            public Lease(PooledConnection c) => _c = c;
            public void Release() => _c.Release();
            public static bool operator ==(Lease? a, Lease? b) => true;
            public static bool operator !=(Lease? a, Lease? b) => false;
            public override bool Equals(object? o) => true;
            public override int GetHashCode() => 0;
        }

        sealed class LeasePool
        {
            public Lease Rent() => new Lease(new Pool().GetConnection());
        }

        sealed class Worker
        {
            private readonly LeasePool _pool = new();
            private readonly Lease? _external;
            private readonly object _marker = new();

            public void Run()
            {
                var lease = _external ?? {|#0:_pool.Rent()|};
                try
                {
                }
                finally
                {
                    // This '!=' (and 'Equals') says the two are equal whatever they are: the new lease is never released.
                    if ({{condition}}) lease.Release();
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'lease' from Rent()", "on the path that leaves the method after line 27"));

    [Fact]
    public Task Release_of_what_is_not_a_field_the_method_assigns_to_a_parameter_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        sealed class Store
        {
            private readonly MySqlDataSource _dataSource = null!;
            private MySqlConnection? _external;

            public long Count(MySqlConnection other)
            {
                var conn = _external ?? _dataSource.OpenConnection();
                try
                {
                    _external = other;
                    using var cmd = new MySqlCommand("select 1", conn);
                    return (long)cmd.ExecuteScalar()!;
                }
                finally
                {
                    // On the path that opened 'conn', '_external' holds the caller's 'other', never the new connection.
                    if (conn != _external) conn.Dispose();
                }
            }
        }
        """);

    private static string OwnedByParameter(string condition) => $$"""
        using MySqlConnector;

        sealed class Reports
        {
            public long Count(MySqlDataSource dataSource, MySqlConnection shared, bool own)
            {
                var conn = own ? {|#0:dataSource.OpenConnection()|} : shared;
                try
                {
                    using var cmd = new MySqlCommand("select count(*) from reports", conn);
                    return (long)cmd.ExecuteScalar()!;
                }
                finally
                {
                    if ({{condition}})
                    {
                        conn.Dispose();
                    }
                }
            }
        }
        """;

    [Theory]
    [InlineData("own")]
    [InlineData("!!own")]
    [InlineData("own == true")]
    [InlineData("false != own")]
    [InlineData("!(own == false)")]
    public Task Release_under_the_bool_parameter_that_chose_to_open_is_not_reported(string condition) =>
        Verify.VerifyAnalyzerAsync(OwnedByParameter(condition).Replace("{|#0:dataSource.OpenConnection()|}", "dataSource.OpenConnection()"));

    [Theory]
    [InlineData("!own")]
    [InlineData("own == false")]
    [InlineData("own != true")]
    [InlineData("true == !own")]
    public Task Release_under_the_opposite_of_the_bool_parameter_that_chose_to_open_is_reported(string condition) =>
        Verify.VerifyAnalyzerAsync(OwnedByParameter(condition),
            Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 11"));

    // ---------------------------------------------------------------- what a repeated test remembers, and what it does not

    private static string ReplicaUnder(string firstTest, string secondTest, string field = "private readonly MySqlConnection? _primary;", string between = "") => $$"""
        using MySqlConnector;

        sealed class Mirror
        {
            private readonly MySqlDataSource _dataSource;
            {{field}}

            public Mirror(MySqlDataSource dataSource, MySqlConnection? primary)
            {
                _dataSource = dataSource;
                _primary = primary;
            }

            public void Copy(MySqlConnection? other)
            {
                MySqlConnection? replica = null;
                if ({{firstTest}})
                {
                    replica = {|#0:_dataSource.OpenConnection()|};
                }
        {{between}}
                if ({{secondTest}})
                {
                    return;
                }

                replica?.Dispose();
            }
        }
        """;

    [Theory]
    [InlineData("_primary != null", "_primary == null")]
    [InlineData("_primary is not null", "_primary is null")]
    [InlineData("_primary == null", "_primary != null")]
    [InlineData("null == _primary", "!(_primary is null)")]
    public Task Acquired_under_a_test_whose_opposite_returns_later_is_not_reported(string firstTest, string secondTest) =>
        // The return is only taken when the connection was never opened: either outcome of the first test is remembered.
        Verify.VerifyAnalyzerAsync(ReplicaUnder(firstTest, secondTest).Replace("{|#0:", "").Replace("|}", ""));

    [Theory]
    [InlineData("_primary != null", "_primary != null")]
    [InlineData("_primary is not null", "!(_primary is null)")]
    [InlineData("_primary == null", "_primary is null")]
    public Task Acquired_under_a_test_that_returns_again_later_is_reported(string firstTest, string secondTest) =>
        // Both tests have the same outcome on the path that opened: it returns with the connection.
        Verify.VerifyAnalyzerAsync(ReplicaUnder(firstTest, secondTest),
            Verify.Diagnostic().WithLocation(0).WithArguments("'replica'", "on the path that leaves the method after line 22"));

    [Fact]
    public Task A_field_the_method_assigns_between_its_tests_proves_nothing() =>
        // '_primary' is null when the connection is opened, and no longer null at the second test.
        Verify.VerifyAnalyzerAsync(ReplicaUnder("_primary == null", "_primary != null", field: "private MySqlConnection? _primary;", between: "        _primary = other;"),
            Verify.Diagnostic().WithLocation(0).WithArguments("'replica'", "on the path that leaves the method after line 22"));

    [Fact]
    public Task A_field_assigned_in_a_condition_between_its_tests_proves_nothing() =>
        Verify.VerifyAnalyzerAsync(ReplicaUnder("_primary == null", "_primary != null", field: "private MySqlConnection? _primary;", between: "        if ((_primary = other) is null) System.Console.WriteLine();"),
            Verify.Diagnostic().WithLocation(0).WithArguments("'replica'", "on the path that leaves the method after line 22"));

    [Fact]
    public Task A_parameter_the_method_assigns_between_its_tests_proves_nothing() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        sealed class Mirror
        {
            public void Copy(MySqlDataSource dataSource, MySqlConnection? primary, MySqlConnection other)
            {
                MySqlConnection? replica = null;
                if (primary == null)
                {
                    replica = {|#0:dataSource.OpenConnection()|};
                }

                primary = other;
                if (primary != null)
                {
                    return;
                }

                replica?.Dispose();
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'replica'", "on the path that leaves the method after line 14"));

    [Fact]
    public Task A_field_tested_three_times_is_remembered() =>
        Verify.VerifyAnalyzerAsync(ReplicaUnder("_primary != null", "_primary == null", between: "        if (_primary is null) System.Console.WriteLine();").Replace("{|#0:", "").Replace("|}", ""));

    [Fact]
    public Task A_bool_local_given_two_values_proves_nothing() =>
        // 'mirrored' says what '_primary' was only until it is set again.
        Verify.VerifyAnalyzerAsync(ReplicaUnder("_primary != null", "!mirrored", between: """
                    var mirrored = _primary != null;
                    if (other is null)
                    {
                        mirrored = true;
                    }
            """),
            Verify.Diagnostic().WithLocation(0).WithArguments("'replica'", "on the path that leaves the method after line 26"));

    [Fact]
    public Task A_bool_local_given_one_value_is_remembered() =>
        Verify.VerifyAnalyzerAsync(ReplicaUnder("_primary != null", "!mirrored", between: """
                    var mirrored = _primary != null;
            """).Replace("{|#0:", "").Replace("|}", ""));

    [Theory]
    [InlineData("attempt++;")]
    [InlineData("++attempt;")]
    [InlineData("attempt--;")]
    [InlineData("attempt += 1;")]
    public Task A_local_changed_between_two_tests_of_it_is_not_taken_to_say_the_same_twice(string step) =>
        // The acquisition happens when 'attempt' is 0, and after the step it no longer is: the release never runs.
        Verify.VerifyAnalyzerAsync($$"""
            using Prelude;

            class C
            {
                void Run(Pool pool, int start)
                {
                    var attempt = start;
                    PooledConnection? conn = null;
                    if (attempt == 0)
                    {
                        conn = {|#0:pool.GetConnection()|};
                    }

                    {{step}}
                    if (attempt == 0)
                    {
                        conn!.Release();
                    }
                }
            }
            """,
            Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that leaves the method after line 15"));

    [Fact]
    public Task Flags_given_by_reference_to_a_method_that_sets_them_only_sometimes_are_not_followed() =>
        // 'Maybe' may set 'released' without releasing anything: the 'finally' may then skip the only release. Each flag
        // so given stays out of the flags the walk follows, however many there are.
        Verify.VerifyAnalyzerAsync("""
            using System;
            using Prelude;

            class C
            {
                static void Maybe(ref bool flag)
                {
                    if (Environment.TickCount > 0)
                    {
                        flag = true;
                    }
                }

                void Run(Pool pool)
                {
                    var conn = {|#0:pool.GetConnection()|};
                    var released = false;
                    var noted = false;
                    try
                    {
                        Maybe(ref released);
                        Maybe(ref noted);
                        conn.Execute("select 1");
                    }
                    finally
                    {
                        if (!released) conn.Release();
                        if (noted) Log.Info("noted");
                    }
                }
            }
            """,
            Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that leaves the method after line 23"));

    [Theory]
    [InlineData("item is not int kind", "1")]
    [InlineData("item is not int { } kind", "1")]
    [InlineData("item is not string { Length: > 0 } kind", "\"audit\"")]
    public Task A_local_declared_by_a_pattern_and_tested_twice_is_remembered(string declaration, string value) =>
        // The pattern is the local's one write: the second test says what the first said, and no path acquires under one
        // and skips the release under the other.
        Verify.VerifyAnalyzerAsync($$"""
            using Prelude;

            class C
            {
                int Run(Pool pool, object item)
                {
                    if ({{declaration}})
                    {
                        return 0;
                    }

                    PooledConnection? conn = null;
                    if (kind == {{value}})
                    {
                        conn = pool.GetConnection();
                    }

                    if (kind == {{value}})
                    {
                        conn!.Release();
                    }

                    return 1;
                }
            }
            """);

    [Theory]
    [InlineData("own switch { true => pool.GetConnection(), false => shared! }", "own")]
    [InlineData("own switch { false => shared!, _ => pool.GetConnection() }", "own is true")]
    [InlineData("own is true ? pool.GetConnection() : shared!", "own")]
    [InlineData("own is not false ? pool.GetConnection() : shared!", "own == true")]
    [InlineData("own ? pool.GetConnection() : shared!", "own is not false")]
    [InlineData("!own ? shared! : pool.GetConnection()", "!(own is false)")]
    public Task A_bool_parameter_tested_by_a_pattern_is_remembered(string choice, string released) =>
        Verify.VerifyAnalyzerAsync(ChosenAndReleasedUnder(choice, released));

    [Theory]
    [InlineData("own switch { true => {|#0:pool.GetConnection()|}, false => shared! }", "own is false", "The result of 'GetConnection'")]
    [InlineData("own is not true ? shared! : {|#0:pool.GetConnection()|}", "own is not true", "'lease'")]
    public Task A_bool_pattern_that_releases_on_the_other_side_is_reported(string choice, string released, string subject) =>
        Verify.VerifyAnalyzerAsync(ChosenAndReleasedUnder(choice, released),
            Verify.Diagnostic().WithLocation(0).WithArguments(subject, "on the path that returns at line 10"));

    [Theory]
    [InlineData("Mode mode", "mode switch { Mode.Own => pool.GetConnection(), _ => shared! }", "mode == Mode.Own")]
    [InlineData("Mode mode", "mode == Mode.Own ? pool.GetConnection() : shared!", "mode is Mode.Own")]
    [InlineData("Mode mode", "mode != Mode.Own ? shared! : pool.GetConnection()", "!(Mode.Own != mode)")]
    [InlineData("Mode mode", "mode is not Mode.Own ? shared! : pool.GetConnection()", "mode == Mode.Own")]
    [InlineData("Mode? mode", "mode == Mode.Own ? pool.GetConnection() : shared!", "mode is Mode.Own")]
    [InlineData("int mode", "mode == 2 ? pool.GetConnection() : shared!", "mode == 2")]
    [InlineData("long mode", "mode is 2 ? pool.GetConnection() : shared!", "mode == 2")]
    [InlineData("int? mode", "mode == 2 ? pool.GetConnection() : shared!", "mode is 2")]
    [InlineData("string mode", "mode == \"own\" ? pool.GetConnection() : shared!", "mode is \"own\"")]
    [InlineData("bool? mode", "mode is true ? pool.GetConnection() : shared!", "mode == true")]
    [InlineData("bool? mode", "mode == false ? shared! : pool.GetConnection()", "mode is not false")]
    [InlineData("bool mode", "mode ? pool.GetConnection() : shared!", "(bool?)mode == true")]
    [InlineData("string? mode", "mode == \"own\" ? pool.GetConnection() : shared!", "mode != null")]
    [InlineData("Mode mode", "mode is Mode.Own or Mode.Other ? pool.GetConnection() : shared!", "mode is Mode.Other or Mode.Own")]
    [InlineData("Mode mode", "mode is not (Mode.Own or Mode.Other) ? shared! : pool.GetConnection()", "mode is Mode.Own or Mode.Other")]
    [InlineData("Mode mode", "mode switch { Mode.Own or Mode.Other => pool.GetConnection(), _ => shared! }", "mode != Mode.Borrow")]
    [InlineData("Mode mode", "mode == Mode.Own ? pool.GetConnection() : shared!", "mode is Mode.Own or Mode.Other")]
    [InlineData("int mode", "mode is 1 or 2 ? pool.GetConnection() : shared!", "mode is 2 or 1 or 2")]
    [InlineData("bool? mode", "mode.GetValueOrDefault() ? pool.GetConnection() : shared!", "mode == true")]
    [InlineData("bool? mode", "mode is true ? pool.GetConnection() : shared!", "mode.GetValueOrDefault()")]
    [InlineData("bool? mode", "mode.HasValue && mode.Value ? pool.GetConnection() : shared!", "mode.HasValue && mode.Value")]
    [InlineData("bool? mode", "mode.HasValue && mode.Value ? pool.GetConnection() : shared!", "mode is true")]
    [InlineData("int? mode", "mode.HasValue ? pool.GetConnection() : shared!", "mode != null")]
    [InlineData("int mode", "mode > 2 ? pool.GetConnection() : shared!", "mode > 2")]
    [InlineData("int mode", "mode > 2 ? pool.GetConnection() : shared!", "2 < mode")]
    [InlineData("int mode", "mode <= 3 ? pool.GetConnection() : shared!", "3 >= mode")]
    [InlineData("int mode", "mode < 3 ? pool.GetConnection() : shared!", "3 > mode")]
    [InlineData("int mode", "mode >= 3 ? pool.GetConnection() : shared!", "3 <= mode")]
    [InlineData("int mode", "mode is > 1 and > 2 ? pool.GetConnection() : shared!", "mode > 2")]
    [InlineData("int mode", "mode is < 5 and < 4 ? pool.GetConnection() : shared!", "mode < 4")]
    [InlineData("int mode", "mode is >= 2 and > 2 ? pool.GetConnection() : shared!", "mode > 2")]
    [InlineData("int mode", "mode == 2 ? pool.GetConnection() : shared!", "mode is >= 2 and <= 2")]
    [InlineData("int mode", "mode > 5 ? pool.GetConnection() : shared!", "!(mode < 3)")]
    [InlineData("int mode", "mode >= 5 ? pool.GetConnection() : shared!", "!(mode <= 4)")]
    [InlineData("int mode", "mode > 2 ? pool.GetConnection() : shared!", "!(mode <= 2)")]
    [InlineData("int mode", "mode is > 2 and < 5 ? pool.GetConnection() : shared!", "mode > 2")]
    [InlineData("int mode", "mode is > 1 and < 4 ? pool.GetConnection() : shared!", "mode < 4")]
    [InlineData("int mode", "mode == 1 ? pool.GetConnection() : shared!", "!(mode > 2)")]
    [InlineData("int mode", "mode > 0 ? pool.GetConnection() : shared!", "mode >= 1")]
    [InlineData("long mode", "mode > decimal.MaxValue ? pool.GetConnection() : shared!", "mode > decimal.MaxValue")]
    [InlineData("long mode", "mode < decimal.MinValue ? pool.GetConnection() : shared!", "mode < decimal.MinValue")]
    [InlineData("int mode", "mode is 1 or 2 or 3 or 4 or 5 or 6 or 7 or 8 or 9 or 10 or 11 or 12 or 13 or 14 or 15 or 16 or 17 or 18 or 19 or 20 or 21 or 22 or 23 or 24 or 25 or 26 or 27 or 28 or 29 or 30 or 31 or 32 or 33 or 34 or 35 or 36 or 37 or 38 or 39 or 40 ? pool.GetConnection() : shared!", "mode is 1 or 2 or 3 or 4 or 5 or 6 or 7 or 8 or 9 or 10 or 11 or 12 or 13 or 14 or 15 or 16 or 17 or 18 or 19 or 20 or 21 or 22 or 23 or 24 or 25 or 26 or 27 or 28 or 29 or 30 or 31 or 32 or 33 or 34 or 35 or 36 or 37 or 38 or 39 or 40")]
    [InlineData("int mode", "mode is 1 or (2 or (3 or 4)) ? pool.GetConnection() : shared!", "mode is 4 or 3 or 2 or 1")]
    [InlineData("long? mode", "mode < 3 ? pool.GetConnection() : shared!", "mode <= 2")]
    [InlineData("Mode mode", "mode > Mode.Borrow ? pool.GetConnection() : shared!", "mode >= Mode.Own")]
    [InlineData("int mode", "mode is > 1 and < 5 ? pool.GetConnection() : shared!", "mode is >= 2 and <= 4")]
    [InlineData("int mode", "mode > 2.5m ? pool.GetConnection() : shared!", "mode >= 3")]
    [InlineData("int mode", "mode >= 2.5m ? pool.GetConnection() : shared!", "mode >= 3")]
    [InlineData("int mode", "mode >= 3 ? pool.GetConnection() : shared!", "mode > 2.5m")]
    [InlineData("int mode", "mode <= 2.5m ? pool.GetConnection() : shared!", "mode <= 2")]
    [InlineData("int mode", "mode <= 2 ? pool.GetConnection() : shared!", "mode < 2.5m")]
    [InlineData("long mode", "mode is >= 1 and <= 3 ? pool.GetConnection() : shared!", "mode is <= 3 and >= 1")]
    [InlineData("int? mode", "mode >= 3 ? pool.GetConnection() : shared!", "mode > 2")]
    [InlineData("int mode", "mode == 5 ? pool.GetConnection() : shared!", "mode is > 2")]
    [InlineData("int mode", "mode is 1 or 2 ? pool.GetConnection() : shared!", "mode is >= 1 and < 3")]
    [InlineData("Mode mode", "mode > Mode.Borrow ? pool.GetConnection() : shared!", "mode != Mode.Borrow")]
    [InlineData("char mode", "mode == 'o' ? pool.GetConnection() : shared!", "mode is 'o'")]
    [InlineData("char mode", "mode is >= 'a' and <= 'z' ? pool.GetConnection() : shared!", "mode is not 'A'")]
    public Task A_parameter_compared_with_a_constant_is_remembered(string parameter, string choice, string released) =>
        Verify.VerifyAnalyzerAsync(ChosenAndReleasedUnder(choice, released, parameter));

    [Theory]
    [InlineData("mode switch { Mode.Borrow => shared!, Mode.Other => shared!, _ => pool.GetConnection() }", "mode != Mode.Borrow && mode != Mode.Other")]
    [InlineData("mode switch { Mode.Own => pool.GetConnection(), _ => shared! }", "mode != Mode.Borrow && mode != Mode.Other")]
    [InlineData("mode == Mode.Own ? pool.GetConnection() : shared!", "mode is not Mode.Borrow")]
    [InlineData("mode is Mode.Own or Mode.Other ? pool.GetConnection() : shared!", "mode != Mode.Borrow")]
    [InlineData("mode == Mode.Own ? pool.GetConnection() : shared!", "mode is not (Mode.Borrow or Mode.Other)")]
    [InlineData("mode is Mode.Own or Mode.Other ? shared! : pool.GetConnection()", "mode != Mode.Own")]
    [InlineData("mode > Mode.Borrow ? shared! : pool.GetConnection()", "mode != Mode.Own")]
    [InlineData("mode < Mode.Other ? pool.GetConnection() : shared!", "mode is not (Mode.Other or (Mode)7)")]
    public Task A_parameter_equal_to_one_constant_is_not_equal_to_another(string choice, string released) =>
        Verify.VerifyAnalyzerAsync(ChosenAndReleasedUnder(choice, released, "Mode mode"));

    [Theory]
    [InlineData("Mode mode", "mode switch { Mode.Own => {|#0:pool.GetConnection()|}, _ => shared! }", "mode == Mode.Borrow", "The result of 'GetConnection'")]
    [InlineData("Mode mode", "mode == Mode.Own ? shared! : {|#0:pool.GetConnection()|}", "mode != Mode.Borrow", "'lease'")]
    [InlineData("Mode mode", "mode == Mode.Own ? {|#0:pool.GetConnection()|} : shared!", "mode == Mode.Own && mode == Mode.Other", "'lease'")]
    [InlineData("int mode", "(byte)mode == 2 ? {|#0:pool.GetConnection()|} : shared!", "mode == 2", "'lease'")]
    [InlineData("bool? mode", "mode is not false ? {|#0:pool.GetConnection()|} : shared!", "mode is true", "'lease'")]
    [InlineData("Mode mode", "mode is Mode.Own or Mode.Other ? {|#0:pool.GetConnection()|} : shared!", "mode == Mode.Own", "'lease'")]
    [InlineData("Mode mode", "mode is Mode.Own or Mode.Other ? {|#0:pool.GetConnection()|} : shared!", "mode is Mode.Own or Mode.Borrow", "'lease'")]
    [InlineData("Mode mode", "mode is not (Mode.Own or Mode.Other) ? shared! : {|#0:pool.GetConnection()|}", "mode is not Mode.Borrow and not Mode.Other", "'lease'")]
    [InlineData("int mode", "mode is 1 or 2 ? {|#0:pool.GetConnection()|} : shared!", "mode is 1 or 3", "'lease'")]
    [InlineData("bool? mode", "mode.HasValue ? {|#0:pool.GetConnection()|} : shared!", "mode.GetValueOrDefault()", "'lease'")]
    [InlineData("bool? mode", "mode.GetValueOrDefault() ? {|#0:pool.GetConnection()|} : shared!", "mode is false", "'lease'")]
    [InlineData("int mode", "mode > 2 ? {|#0:pool.GetConnection()|} : shared!", "mode > 3", "'lease'")]
    [InlineData("int mode", "mode is > 2 and < 5 ? {|#0:pool.GetConnection()|} : shared!", "mode < 4", "'lease'")]
    [InlineData("int mode", "mode >= 2 ? {|#0:pool.GetConnection()|} : shared!", "mode > 2", "'lease'")]
    [InlineData("int mode", "mode <= 2 ? {|#0:pool.GetConnection()|} : shared!", "mode < 2", "'lease'")]
    [InlineData("int mode", "mode >= 2 ? {|#0:pool.GetConnection()|} : shared!", "!(mode <= 2)", "'lease'")]
    [InlineData("int mode", "mode > 0 ? {|#0:pool.GetConnection()|} : shared!", "mode >= 2", "'lease'")]
    [InlineData("decimal mode", "mode > 0 ? {|#0:pool.GetConnection()|} : shared!", "mode >= 1", "'lease'")]
    [InlineData("int mode", "mode >= 0 ? {|#0:pool.GetConnection()|} : shared!", "mode > 0", "'lease'")]
    [InlineData("int mode", "mode >= 2 ? {|#0:pool.GetConnection()|} : shared!", "mode == 2 || mode > 2 && mode < 9", "'lease'")]
    [InlineData("int mode", "mode >= 1 ? {|#0:pool.GetConnection()|} : shared!", "mode is >= 1 and <= 3", "'lease'")]
    [InlineData("int mode", "mode is >= 1 and <= 3 ? {|#0:pool.GetConnection()|} : shared!", "mode is 1 or 2", "'lease'")]
    [InlineData("int mode", "mode is > 2 ? {|#0:pool.GetConnection()|} : shared!", "mode >= 2 && mode < 4", "'lease'")]
    [InlineData("int? mode", "mode is not < 3 ? {|#0:pool.GetConnection()|} : shared!", "mode >= 3", "'lease'")]
    public Task A_comparison_with_a_constant_that_can_miss_the_release_is_reported(string parameter, string choice, string released, string subject) =>
        Verify.VerifyAnalyzerAsync(ChosenAndReleasedUnder(choice, released, parameter),
            Verify.Diagnostic().WithLocation(0).WithArguments(subject, "on the path that returns at line 10"));

    [Theory]
    [InlineData("var own = options.Own;", "own ? pool.GetConnection() : shared", "own")]
    [InlineData("var own = options.Own;", "!own ? shared : pool.GetConnection()", "own == true")]
    [InlineData("var mode = options.Mode;", "mode == Mode.Own ? pool.GetConnection() : shared", "mode is Mode.Own")]
    [InlineData("var mode = options.Mode;", "mode switch { Mode.Own => pool.GetConnection(), _ => shared }", "mode != Mode.Borrow && mode != Mode.Other")]
    [InlineData("var cached = options.Cached;", "cached ?? pool.GetConnection()", "cached == null")]
    [InlineData("bool own; own = options.Own;", "own ? pool.GetConnection() : shared", "own")]
    [InlineData("options.TryGetOwn(out var own);", "own ? pool.GetConnection() : shared", "own")]
    public Task A_local_written_once_is_remembered(string before, string choice, string released) =>
        Verify.VerifyAnalyzerAsync(ChosenFromALocal(before, choice, released));

    [Theory]
    [InlineData("if (check) own = false;")]
    [InlineData("own &= check;")]
    [InlineData("own = own && check;")]
    [InlineData("Flip(ref own);")]
    [InlineData("(own, _) = (check, 0);")]
    [InlineData("System.Action drop = () => own = false; if (check) drop();")]
    public Task A_local_that_may_change_proves_nothing(string change) =>
        // 'own' chose the lease, then may say something else by the 'finally': the lease it chose can leak.
        Verify.VerifyAnalyzerAsync(ChosenFromALocal("var own = options.Own;", "own ? {|#0:pool.GetConnection()|} : shared", "own", change),
            Verify.Diagnostic().WithLocation(0).WithArguments("'lease'", "on the path that returns at line 31"));

    [Theory]
    [InlineData("OwnsConnection ? pool.GetConnection() : Shared!", "OwnsConnection")]
    [InlineData("this.OwnsConnection ? pool.GetConnection() : Shared!", "this.OwnsConnection")]
    [InlineData("Shared ?? pool.GetConnection()", "Shared == null")]
    [InlineData("Mode == Mode.Own ? pool.GetConnection() : Shared!", "Mode is Mode.Own")]
    [InlineData("Settled ? pool.GetConnection() : Shared!", "Settled")]
    public Task An_auto_property_of_the_type_is_remembered_like_a_field(string choice, string released) =>
        Verify.VerifyAnalyzerAsync(ChosenByAProperty(choice, released, change: ""));

    [Theory]
    [InlineData("Changing ? {|#0:pool.GetConnection()|} : Shared!", "Changing", "if (check) Changing = false;")]
    [InlineData("Overridable ? {|#0:pool.GetConnection()|} : Shared!", "Overridable", "")]
    [InlineData("Computed ? {|#0:pool.GetConnection()|} : Shared!", "Computed", "")]
    public Task A_property_that_may_change_proves_nothing(string choice, string released, string change) =>
        // Assigned by the method, open to an override, or computed at each read: the second read may say otherwise.
        Verify.VerifyAnalyzerAsync(ChosenByAProperty(choice, released, change),
            Verify.Diagnostic().WithLocation(0).WithArguments("'lease'", "on the path that returns at line 29"));

    /// <summary>
    /// The statements of a method that chooses <c>lease</c> by <paramref name="choice"/>, runs <paramref name="change"/>
    /// (when given) and releases it in a finally under <paramref name="released"/>, for a method body eight spaces in.
    /// </summary>
    private static string ChooseThenRelease(string choice, string released, string? change = null) =>
        string.Join("\n        ", new[]
        {
            $"var lease = {choice};",
            change,
            "try",
            "{",
            "    return lease.Execute(\"select 1\");",
            "}",
            "finally",
            "{",
            $"    if ({released})",
            "    {",
            "        lease.Dispose();",
            "    }",
            "}",
        }.Where(line => line is not null));

    /// <summary>
    /// A lease chosen by <paramref name="choice"/> from the type's properties, and released in a finally under
    /// <paramref name="released"/>; <paramref name="change"/> runs before the <c>try</c>.
    /// </summary>
    private static string ChosenByAProperty(string choice, string released, string change) => $$"""
        using Prelude;

        enum Mode { Borrow, Own }

        class C
        {
            private int _calls;

            public bool OwnsConnection { get; }

            public Mode Mode { get; }

            public ConnectionLease? Shared { get; }

            public bool Settled { get; init; }

            public bool Changing { get; set; }

            public virtual bool Overridable { get; }

            public bool Computed => ++_calls % 2 == 0;

            int Run(LeasePool pool, bool check)
            {
                {{ChooseThenRelease(choice, released, change)}}
            }
        }
        """;

    [Theory]
    [InlineData("var owned = connection is null;", "connection ??= await _dataSource.OpenConnectionAsync();", "owned")]
    [InlineData("var borrowed = connection != null;", "connection ??= await _dataSource.OpenConnectionAsync();", "!borrowed")]
    [InlineData("bool owned = connection == null;", "if (connection is null) connection = await _dataSource.OpenConnectionAsync();", "owned")]
    [InlineData("var owned = connection is null;", "connection = connection ?? await _dataSource.OpenConnectionAsync();", "owned")]
    public Task A_local_that_remembers_whether_a_parameter_was_null_before_it_is_filled_in_is_followed(string remember, string fill, string released) =>
        // 'owned' says what 'connection is null' said: the same test, before anything wrote 'connection'.
        Verify.VerifyAnalyzerAsync(UseTheGivenConnectionOrOpenOne(remember, fill, released));

    [Theory]
    [InlineData("var owned = connection is null; if (check) connection = null;", "connection ??= await {|#0:_dataSource.OpenConnectionAsync()|};", "owned")]
    [InlineData("connection ??= null; var owned = connection is null;", "connection ??= await {|#0:_dataSource.OpenConnectionAsync()|};", "owned")]
    [InlineData("var owned = connection is not null;", "connection ??= await {|#0:_dataSource.OpenConnectionAsync()|};", "owned")]
    [InlineData("var owned = connection is null; Forget();", "connection ??= await {|#0:_dataSource.OpenConnectionAsync()|}; void Forget() => connection = null;", "owned")]
    public Task A_local_that_may_not_say_whether_the_method_opened_the_connection_proves_nothing(string remember, string fill, string released) =>
        // 'connection' is written between the two tests (also by a local function declared after them), or 'owned' says
        // the opposite: the opened connection can leak.
        Verify.VerifyAnalyzerAsync(UseTheGivenConnectionOrOpenOne(remember, fill, released),
            Verify.Diagnostic().WithLocation(0).WithArguments("'connection'", "on the path that returns at line 14"));

    /// <summary>A method that uses the caller's connection or opens one (<paramref name="fill"/>), and disposes it under <paramref name="released"/>.</summary>
    private static string UseTheGivenConnectionOrOpenOne(string remember, string fill, string released) => $$"""
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            private readonly MySqlDataSource _dataSource = null!;

            public async Task<int> RunAsync(bool check, MySqlConnection? connection = null)
            {
                {{remember}}
                {{fill}}
                try
                {
                    return await new MySqlCommand("select 1", connection).ExecuteNonQueryAsync();
                }
                finally
                {
                    if ({{released}})
                    {
                        await connection.DisposeAsync();
                    }
                }
            }
        }
        """;

    [Fact]
    public Task A_local_set_in_a_loop_is_not_remembered_across_its_iterations() =>
        // Each iteration gives 'own' a new value: the first acquires when it is true, the second releases only if it is
        // true again, and returns either way.
        Verify.VerifyAnalyzerAsync("""
            using Prelude;

            class Options
            {
                public bool Next() => true;
            }

            class C
            {
                void Run(LeasePool pool, Options options)
                {
                    ConnectionLease? lease = null;
                    var first = true;
                    while (true)
                    {
                        var own = options.Next();
                        if (first)
                        {
                            first = false;
                            if (own)
                            {
                                lease = {|#0:pool.GetConnection()|};
                            }

                            continue;
                        }

                        if (own)
                        {
                            lease?.Dispose();
                        }

                        return;
                    }
                }
            }
            """,
            Verify.Diagnostic().WithLocation(0).WithArguments("'lease'", "on the path that leaves the method after line 28"));

    [Theory]
    [InlineData("var mode = Mode.Borrow; if (check) mode = options.Mode;", "mode == Mode.Own ? pool.GetConnection() : shared", "mode == Mode.Own")]
    [InlineData("var mode = options.Mode; if (check) mode = Mode.Own;", "mode switch { Mode.Own => pool.GetConnection(), _ => shared }", "mode is not (Mode.Borrow or Mode.Other)")]
    [InlineData("int level = 0; level = 2; if (check) level = 3;", "level == 2 ? pool.GetConnection() : shared", "level is 2")]
    [InlineData("var kind = \"borrow\"; if (check) kind = \"own\";", "kind == \"own\" ? pool.GetConnection() : shared", "kind is \"own\"")]
    [InlineData("Mode? mode = null; if (check) mode = options.Mode;", "mode is Mode.Own or Mode.Other ? pool.GetConnection() : shared", "mode is Mode.Other or Mode.Own")]
    public Task A_value_local_written_by_plain_assignments_is_remembered_from_its_last_write(string before, string choice, string released) =>
        Verify.VerifyAnalyzerAsync(ChosenFromALocal(before, choice, released));

    [Theory]
    [InlineData("if (check) mode = Mode.Borrow;")]
    [InlineData("mode = options.Mode;")]
    [InlineData("mode |= Mode.Other;")]
    [InlineData("System.Action reset = () => mode = Mode.Borrow; if (check) reset();")]
    public Task A_value_local_written_after_the_choice_proves_nothing(string change) =>
        Verify.VerifyAnalyzerAsync(ChosenFromALocal("var mode = options.Mode;", "mode == Mode.Own ? {|#0:pool.GetConnection()|} : shared", "mode == Mode.Own", change),
            Verify.Diagnostic().WithLocation(0).WithArguments("'lease'", "on the path that returns at line 31"));

    [Fact]
    public Task A_character_compared_with_a_constant_is_read_like_a_number() =>
        // Characters of a string compared with ';' while a lease is held: the comparisons are read, the leak is reported.
        Verify.VerifyAnalyzerAsync("""
            using Prelude;

            class C
            {
                int Count(LeasePool pool, string sql)
                {
                    var lease = {|#0:pool.GetConnection()|};
                    var statements = 0;
                    foreach (var character in sql)
                    {
                        if (character == ';' || character is >= '\u0000' and < ' ')
                        {
                            statements++;
                        }
                    }

                    if (statements == 0)
                    {
                        return 0;
                    }

                    lease.Dispose();
                    return statements;
                }
            }
            """,
            Verify.Diagnostic().WithLocation(0).WithArguments("'lease'", "on the path that returns at line 19"));

    [Fact]
    public Task A_jump_that_runs_no_write_again_keeps_a_local_remembered() =>
        Verify.VerifyAnalyzerAsync(ChosenFromALocal("var own = options.Own;", "own ? pool.GetConnection() : shared", "own", "if (check) goto done; done: { }"));

    [Theory]
    [InlineData("foreach (var item in items)", "var own = item.Own;", "own ? pool.GetConnection() : item.Cached!", "own")]
    [InlineData("foreach (var item in items)", "var mode = item.Mode;", "mode == Mode.Own ? pool.GetConnection() : item.Cached!", "mode is Mode.Own")]
    [InlineData("foreach (var item in items)", "var mode = item.Mode;", "mode switch { Mode.Own => pool.GetConnection(), _ => item.Cached! }", "mode != Mode.Borrow && mode != Mode.Other")]
    [InlineData("foreach (var item in items)", "var cached = item.Cached;", "cached ?? pool.GetConnection()", "cached is null")]
    [InlineData("for (var i = 0; i < items.Count; i++)", "var own = items[i].Own;", "own ? pool.GetConnection() : items[i].Cached!", "own")]
    [InlineData("while (items.Count > 0)", "bool own; own = items[0].Own; items.RemoveAt(0);", "own ? pool.GetConnection() : shared", "own")]
    public Task A_local_of_a_loop_body_is_remembered_within_its_iteration(string loop, string before, string choice, string released) =>
        // Each iteration writes the local once, chooses by it, and releases under the same test.
        Verify.VerifyAnalyzerAsync($$"""
            using System.Collections.Generic;
            using Prelude;

            enum Mode { Borrow, Own, Other }

            class Item
            {
                public bool Own { get; set; }

                public Mode Mode { get; set; }

                public ConnectionLease? Cached { get; set; }
            }

            class C
            {
                void Run(LeasePool pool, ConnectionLease shared, List<Item> items)
                {
                    {{loop}}
                    {
                        {{before}}
                        var lease = {{choice}};
                        try
                        {
                            Log.Info("working");
                        }
                        finally
                        {
                            if ({{released}})
                            {
                                lease.Dispose();
                            }
                        }
                    }
                }
            }
            """);

    [Theory]
    [InlineData("foreach (var item in items)", "var own = item.Own;", "")]
    [InlineData("while (items.Count > 0)", "var own = items[0].Own;", "items.RemoveAt(0);")]
    public Task A_local_of_a_loop_body_says_nothing_of_the_next_iteration(string loop, string before, string after) =>
        // An iteration that found 'own' true takes a lease; the next may find it false and drop the lease it holds.
        Verify.VerifyAnalyzerAsync($$"""
            using System.Collections.Generic;
            using Prelude;

            class Item
            {
                public bool Own { get; set; }
            }

            class C
            {
                void Run(LeasePool pool, List<Item> items)
                {
                    ConnectionLease? held = null;
                    {{loop}}
                    {
                        {{before}}
                        if (own)
                        {
                            Log.Info("owned");
                        }

                        if (own)
                        {
                            held?.Dispose();
                            held = {|#0:pool.GetConnection()|};
                        }
                        else
                        {
                            held = null;
                        }

                        {{after}}
                    }

                    held?.Dispose();
                }
            }
            """,
            Verify.Diagnostic().WithLocation(0).WithArguments("'held'", "when 'held' is overwritten at line 29"));

    [Fact]
    public Task A_local_that_a_backward_goto_writes_again_says_nothing_of_its_new_value() =>
        // The same as a loop, made with 'goto': the second pass writes 'own' again.
        Verify.VerifyAnalyzerAsync("""
            using Prelude;

            class Options
            {
                public bool Next() => true;
            }

            class C
            {
                void Run(LeasePool pool, Options options, int count)
                {
                    ConnectionLease? held = null;
                    bool own;
                again:
                    own = options.Next();
                    if (own)
                    {
                        Log.Info("owned");
                    }

                    if (own)
                    {
                        held?.Dispose();
                        held = {|#0:pool.GetConnection()|};
                    }
                    else
                    {
                        held = null;
                    }

                    if (--count > 0)
                    {
                        goto again;
                    }

                    held?.Dispose();
                }
            }
            """,
            Verify.Diagnostic().WithLocation(0).WithArguments("'held'", "when 'held' is overwritten at line 28"));

    /// <summary>
    /// A lease chosen by <paramref name="choice"/> after <paramref name="before"/> sets a local, and released in a finally
    /// under <paramref name="released"/>; <paramref name="change"/> runs between the choice and the <c>try</c>.
    /// </summary>
    private static string ChosenFromALocal(string before, string choice, string released, string change = "") => $$"""
        using Prelude;

        enum Mode { Borrow, Own, Other }

        class Options
        {
            public bool Own { get; set; }

            public Mode Mode { get; set; }

            public ConnectionLease? Cached { get; set; }

            public bool TryGetOwn(out bool own)
            {
                own = Own;
                return true;
            }
        }

        class C
        {
            static void Flip(ref bool value) => value = !value;

            int Run(LeasePool pool, ConnectionLease shared, Options options, bool check)
            {
                {{before}}
                {{ChooseThenRelease(choice, released, change)}}
            }
        }
        """;

    [Fact]
    public Task A_switch_statement_case_is_remembered_by_a_later_comparison() =>
        Verify.VerifyAnalyzerAsync("""
            using Prelude;

            enum Mode { Borrow, Own, Other }

            class C
            {
                int Run(LeasePool pool, ConnectionLease shared, Mode mode)
                {
                    ConnectionLease lease;
                    switch (mode)
                    {
                        case Mode.Own:
                            lease = pool.GetConnection();
                            break;
                        case Mode.Borrow:
                            lease = shared;
                            break;
                        default:
                            return 0;
                    }

                    try
                    {
                        return lease.Execute("select 1");
                    }
                    finally
                    {
                        if (mode == Mode.Own)
                        {
                            lease.Dispose();
                        }
                    }
                }
            }
            """);

    /// <summary>
    /// A lease chosen by <paramref name="choice"/> (acquired or borrowed) and released in a finally under
    /// <paramref name="released"/>; the method's last parameter is <paramref name="parameter"/>.
    /// </summary>
    private static string ChosenAndReleasedUnder(string choice, string released, string parameter = "bool own") => $$"""
        using Prelude;

        class C
        {
            int Run(LeasePool pool, ConnectionLease? shared, {{parameter}})
            {
                {{ChooseThenRelease(choice, released)}}
            }
        }

        enum Mode { Borrow, Own, Other }
        """;

    // ---------------------------------------------------------------- a 'released' flag in any spelling

    private static string ReleasedUnlessFlagged(string condition) => $$"""
        using Prelude;

        class C
        {
            void M(Pool pool, bool early)
            {
                var conn = {|#0:pool.GetConnection()|};
                var released = false;
                try
                {
                    conn.Execute("update a set b = 1");
                    if (early)
                    {
                        {|#1:conn.Release()|};
                        released = true;
                    }

                    Log.Info("done");
                }
                finally
                {
                    if ({{condition}})
                    {
                        {|#2:conn.Release()|};
                    }
                }
            }
        }
        """;

    [Theory]
    [InlineData("!released")]
    [InlineData("released == false")]
    [InlineData("false == released")]
    [InlineData("released != true")]
    [InlineData("!(released == true)")]
    public Task Release_in_finally_unless_the_flag_says_released_is_not_reported(string condition) =>
        Verify.VerifyAnalyzerAsync(ReleasedUnlessFlagged(condition).Replace("{|#0:", "").Replace("{|#1:", "").Replace("{|#2:", "").Replace("|}", ""));

    [Theory]
    [InlineData("released")]
    [InlineData("released == true")]
    [InlineData("released != false")]
    [InlineData("!(released == false)")]
    public Task Release_in_finally_only_when_the_flag_says_released_is_reported(string condition) =>
        Verify.VerifyAnalyzerAsync(ReleasedUnlessFlagged(condition),
            Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that leaves the method after line 18"),
            Verify.Diagnostic(Descriptors.ConnectionUsedAfterRelease).WithLocation(1).WithLocation(2)
                .WithArguments("'conn'", "is released at line 14 and again in the 'finally' at line 24"));

    [Theory]
    [InlineData("released = n > 0;")]
    [InlineData("released = conn.Execute(\"select 1\") > 0;")]
    [InlineData("released = !released && n == 1;")]
    public Task A_flag_also_given_a_value_that_is_not_known_is_not_trusted(string set) => Verify.VerifyAnalyzerAsync($$"""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = {|#0:pool.GetConnection()|};
                var released = false;
                try
                {
                    var n = conn.Execute("update a set b = 1");
                    {{set}}
                    return n;
                }
                finally
                {
                    if (!released)
                    {
                        conn.Release();
                    }
                }
            }
        }
        """,
        // 'released' may be true without a release: the connection is not given back on that path.
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 13"));

    [Fact]
    public Task A_flag_given_a_new_value_is_followed_with_that_value() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool, bool early)
            {
                var conn = pool.GetConnection();
                var logged = true;
                var released = true;
                released = false;
                try
                {
                    conn.Execute("update a set b = 1");
                    if (early)
                    {
                        conn.Release();
                        released = true;
                    }
                }
                finally
                {
                    if (logged && !released)
                    {
                        conn.Release();
                    }
                }
            }
        }
        """);

    private static string ReleasedByLocalFunction(string done) => $$"""
        using Prelude;

        class C
        {
            void M(Pool pool, bool early)
            {
                var conn = {|#0:pool.GetConnection()|};
                var released = false;
                {{done}}
                try
                {
                    conn.Execute("update a set b = 1");
                    if (early)
                    {
                        {|#1:Done()|};
                    }

                    Log.Info("done");
                }
                finally
                {
                    if (!released)
                    {
                        {|#2:conn.Release()|};
                    }
                }
            }
        }
        """;

    [Theory]
    [InlineData("void Done() { conn.Release(); released = true; }")]
    [InlineData("void Done() { Log.Info(\"giving back\"); conn.Release(); released = true; }")]
    public Task A_flag_a_local_function_sets_at_its_end_is_followed(string done) =>
        Verify.VerifyAnalyzerAsync(ReleasedByLocalFunction(done).Replace("{|#0:", "").Replace("{|#1:", "").Replace("{|#2:", "").Replace("|}", ""));

    [Theory]
    [InlineData("void Done() => released = true;")]
    [InlineData("void Done() { Log.Info(\"not released\"); released = true; }")]
    public Task A_flag_a_local_function_sets_without_releasing_hides_no_leak(string done) =>
        // The flag says released, the connection is not: the 'finally' skips it when 'early' is true.
        Verify.VerifyAnalyzerAsync(ReleasedByLocalFunction(done).Replace("{|#1:", "").Replace("{|#2:", "").Replace("Done()|}", "Done()").Replace("conn.Release()|}", "conn.Release()"),
            Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that leaves the method after line 18"));

    [Theory]
    [InlineData("first")]
    [InlineData("second")]
    public Task A_flag_a_local_function_sets_is_the_one_it_names_not_another_of_the_same_name(string order) =>
        // Two blocks, each with its own 'released': the local function sets the first block's, whichever block comes first.
        Verify.VerifyAnalyzerAsync($$"""
            using Prelude;

            class C
            {
                void M(Pool pool, bool early)
                {
                    {{(order == "first" ? FlaggedBlock : OtherFlagBlock)}}
                    {{(order == "first" ? OtherFlagBlock : FlaggedBlock)}}
                }
            }
            """);

    private const string FlaggedBlock = """
        {
                    var conn = pool.GetConnection();
                    var released = false;
                    void Done() { conn.Release(); released = true; }
                    try
                    {
                        conn.Execute("update a set b = 1");
                        if (early) Done();
                    }
                    finally
                    {
                        if (!released) conn.Release();
                    }
                }
        """;

    private const string OtherFlagBlock = """
        {
                    var released = false;
                    Log.Info("second");
                    if (early) released = true;
                    if (!released) Log.Info("not yet");
                }
        """;

    [Theory]
    [InlineData("void Done() { if (!early) return; conn.Release(); released = true; }")]
    [InlineData("void Done() { released = true; conn.Release(); }")]
    [InlineData("void Done() { conn.Release(); released = true; } System.Action later = Done;")]
    [InlineData("System.Action Done = () => { conn.Release(); released = true; };")]
    [InlineData("System.Action Done = () => { released = true; conn.Release(); };")]
    [InlineData("System.Action Done = delegate { conn.Release(); released = true; };")]
    [InlineData("System.Action Done = () => { conn?.Release(); released = true; };")]
    [InlineData("void Mark() => released = true; void Done() { conn.Release(); Mark(); }")]
    [InlineData("void Mark() { released = true; } System.Action Done = () => { conn.Release(); Mark(); };")]
    [InlineData("void Release(PooledConnection c) => c.Release(); void Done() { Release(conn); released = true; }")]
    [InlineData("static void Close(PooledConnection c, ref bool flag) { c.Release(); flag = true; } void Done() => Close(conn, ref released);")]
    [InlineData("static void Finish(PooledConnection c, ref bool flag) { c.Release(); flag = true; } void Done() => Finish(conn, ref released);")]
    [InlineData("void Release(PooledConnection c) => c.Release(); System.Action Done = () => { Release(conn); released = true; };")]
    [InlineData("System.Action Done = () => { conn.Release(); released = true; }; System.Action Ping = () => Log.Info(\"ping\");")]
    [InlineData("var calls = 0; System.Action Done = () => { conn.Release(); released = true; calls = 1; };")]
    [InlineData("var alias = conn; System.Action Done = () => { alias.Release(); released = true; };")]
    [InlineData("var alias = conn; System.Action Done = () => { conn.Release(); released = true; };")]
    public Task A_flag_set_by_a_function_that_releases_the_connection_gives_no_report(string done) =>
        // The flag is not followed (the function may change it at any time), and that function may have released the
        // connection and said so: neither side of the 'finally' can be taken as a leak or a second release.
        Verify.VerifyAnalyzerAsync(ReleasedByLocalFunction(done).Replace("{|#0:", "").Replace("{|#1:", "").Replace("{|#2:", "").Replace("|}", ""));

    [Theory]
    [InlineData("System.Action Done = () => released = true;")]
    [InlineData("System.Action Done = () => { Log.Info(\"not released\"); released = true; };")]
    [InlineData("System.Action Done = () => { conn.Execute(\"update a set c = 1\"); released = true; };")]
    [InlineData("void Mark() => released = true; void Done() { conn.Execute(\"update a set c = 1\"); Mark(); }")]
    [InlineData("void Inspect(PooledConnection c) => c.Execute(\"select 1\"); void Done() { Inspect(conn); released = true; }")]
    public Task A_flag_set_by_a_function_that_does_not_release_the_connection_hides_no_leak(string done) =>
        // The flag says released, the connection is not: the 'finally' skips it when 'early' is true.
        Verify.VerifyAnalyzerAsync(ReleasedByLocalFunction(done).Replace("{|#1:", "").Replace("{|#2:", "").Replace("Done()|}", "Done()").Replace("conn.Release()|}", "conn.Release()"),
            Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that leaves the method after line 18"));

    [Fact]
    public Task A_flag_given_by_reference_to_a_call_and_set_by_a_lambda_that_releases_gives_no_report() =>
        // 'Touch(ref released)' makes 'released' no flag the walk follows; the lambda that releases the connection also
        // sets it, so the 'finally' may skip a release the lambda made: neither a leak nor a second release is certain.
        Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            static void Touch(ref bool flag)
            {
                if (flag) Log.Info("already released");
            }

            void M(Pool pool, bool early)
            {
                var conn = pool.GetConnection();
                var released = false;
                System.Action done = () => { conn.Release(); released = true; };
                try
                {
                    Touch(ref released);
                    if (early)
                    {
                        done();
                    }
                }
                finally
                {
                    if (!released) conn.Release();
                }
            }
        }
        """);

    [Fact]
    public Task A_local_function_named_like_a_release_is_judged_by_its_body() =>
        // 'Release(conn)' of a local function: its body, not its name, says whether it gives the connection back.
        Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            void Kept(Pool pool)
            {
                var conn = {|#0:pool.GetConnection()|};
                conn.Execute("update a set b = 1");
                Release(conn);

                static void Release(PooledConnection c) => Log.Info("kept " + c.GetHashCode());
            }

            void Given(Pool pool)
            {
                var conn = pool.GetConnection();
                Release(conn);

                static void Release(PooledConnection c) => c.Release();
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that leaves the method after line 9"));

    [Fact]
    public Task A_flag_only_ever_set_through_out_arguments_is_followed() =>
        // No assignment of its own makes 'released' a flag: only calls whose last statement sets their 'out' parameter.
        Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            static void Clear(out bool flag) { flag = false; }
            static void Mark(out bool flag) { Log.Info("released"); flag = true; }

            int Marked(Pool pool, bool early)
            {
                bool released;
                Clear(out released);
                var conn = pool.GetConnection();
                try
                {
                    if (early)
                    {
                        Mark(out released);
                        conn.Release();
                        return 0;
                    }

                    return conn.Execute("select 1");
                }
                finally
                {
                    if (!released) conn.Release();
                }
            }
        }
        """);

    [Fact]
    public Task A_flag_set_by_a_method_given_it_by_reference_as_its_last_statement_is_followed() =>
        // 'Mark(ref released)' whose last statement is 'flag = true;' sets the flag when it returns (a call that throws
        // leaves it as it was); 'Maybe', which may return first, leaves it unknown, and both sides of the 'finally' are taken.
        Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            static void Mark(ref bool flag) { Log.Info("released"); flag = true; }
            static void Maybe(ref bool flag, bool b) { if (b) return; flag = true; }

            int Marked(Pool pool, bool early)
            {
                var conn = pool.GetConnection();
                var released = false;
                try
                {
                    if (early)
                    {
                        Mark(ref released);
                        conn.Release();
                        return 0;
                    }

                    return conn.Execute("select 1");
                }
                finally
                {
                    if (!released) conn.Release();
                }
            }

            int Local(Pool pool, bool early)
            {
                var conn = pool.GetConnection();
                var released = false;
                void Set(ref bool f) => f = true;
                try
                {
                    if (early)
                    {
                        Set(ref released);
                        conn.Release();
                        return 0;
                    }

                    return conn.Execute("select 1");
                }
                finally
                {
                    if (!released) conn.Release();
                }
            }

            int Wrong(Pool pool, bool early)
            {
                var conn = {|#0:pool.GetConnection()|};
                var released = false;
                try
                {
                    if (early)
                    {
                        Mark(ref released);
                        return 0;
                    }

                    return conn.Execute("select 1");
                }
                finally
                {
                    if (!released) conn.Release();
                }
            }

            int MaybeSet(Pool pool, bool early)
            {
                var conn = {|#1:pool.GetConnection()|};
                var released = false;
                try
                {
                    if (early)
                    {
                        {|#2:conn.Release()|};
                        Maybe(ref released, early);
                        return 0;
                    }

                    return conn.Execute("select 1");
                }
                finally
                {
                    if (!released) {|#3:conn.Release()|};
                }
            }
        }
        """,
            Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 60"),
            Verify.Diagnostic().WithLocation(1).WithArguments("'conn'", "on the path that returns at line 84"),
            Verify.Diagnostic(Descriptors.ConnectionUsedAfterRelease).WithLocation(2).WithLocation(3)
                .WithArguments("'conn'", "is released at line 79 and again in the 'finally' at line 88"));

    private const string UnseenSetters = """
        public interface IMarker
        {
            void Mark(ref bool flag);
            void Done(out bool flag);
        }

        public abstract class Base
        {
            protected abstract void Set(ref bool flag);
        }

        public delegate void Setter(ref bool flag);
        """;

    [Theory]
    [InlineData("Mark(ref released)")]
    [InlineData("Set(ref released)")]
    [InlineData("_marker.Mark(ref released)")]
    [InlineData("_marker.Done(out released)")]
    [InlineData("_setter(ref released)")]
    public Task A_flag_given_by_reference_to_a_method_the_analysis_cannot_see_into_gives_no_report(string call) =>
        // A virtual, abstract or interface method (or a delegate) may be replaced by one that sets the flag: after the
        // call the flag may say either, in step with what the path did. Neither side of the 'finally' is taken as a
        // leak (the path that skipped the call has the flag false and releases) or a second release.
        Verify.VerifyAnalyzerAsync($$"""
            using Prelude;

            {{UnseenSetters}}

            class C : Base
            {
                private readonly IMarker _marker;
                private readonly Setter _setter;

                public C(IMarker marker, Setter setter)
                {
                    _marker = marker;
                    _setter = setter;
                }

                protected virtual void Mark(ref bool flag) { Log.Info("released"); flag = true; }

                protected override void Set(ref bool flag) => flag = true;

                int M(Pool pool, bool early)
                {
                    var conn = pool.GetConnection();
                    var released = false;
                    try
                    {
                        if (early)
                        {
                            {{call}};
                            conn.Release();
                            return 0;
                        }

                        return conn.Execute("select 1");
                    }
                    finally
                    {
                        if (!released) conn.Release();
                    }
                }
            }
            """);

    /// <summary>
    /// A class given an <c>IMarker</c> (see <see cref="UnseenSetters"/>) whose members are <paramref name="members"/>,
    /// written four spaces in.
    /// </summary>
    private static string WithMarker(string members) => $$"""
        using Prelude;

        {{UnseenSetters}}

        class C
        {
            private readonly IMarker _marker;

            public C(IMarker marker) => _marker = marker;

        {{members}}
        }
        """;

    [Fact]
    public Task A_flag_an_unseen_call_may_set_is_unknown_whatever_its_place_among_the_flags() =>
        // 'audited' and 'checkedOut' come first among the flags: '_marker.Mark(ref released)' must make the third one
        // either, not a neighbour's bits.
        Verify.VerifyAnalyzerAsync(WithMarker($$"""
                int M(Pool pool, bool early)
                {
                    var audited = false;
                    var checkedOut = false;
                    var skipped = 0;
                    var conn = pool.GetConnection();
                    var released = false;
                    try
                    {
                        if (early)
                        {
                            audited = true;
                            checkedOut = true;
                            _marker.Mark(ref released);
                            conn.Release();
                            return 0;
                        }

                        return conn.Execute("select 1");
                    }
                    finally
                    {
                        if (!audited) skipped++;
                        if (!checkedOut) skipped++;
                        if (!released) conn.Release();
                    }
                }
            """));

    [Fact]
    public Task A_flag_set_by_assignment_is_still_followed_beside_another_flag_an_unseen_call_may_set() =>
        // '_marker.Mark(ref marked)' makes 'marked' either; 'released', assigned true before the 'finally', is still known
        // true there: the path that set it without releasing the connection leaks.
        Verify.VerifyAnalyzerAsync(WithMarker($$"""
                int M(Pool pool, bool early)
                {
                    var marked = false;
                    _marker.Mark(ref marked);
                    if (marked) Log.Info("marked");
                    var conn = {|#0:pool.GetConnection()|};
                    var released = false;
                    try
                    {
                        if (early)
                        {
                            released = true;
                            return 0;
                        }

                        return conn.Execute("select 1");
                    }
                    finally
                    {
                        if (!released) conn.Release();
                    }
                }
            """),
            Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 34"));

    [Theory]
    [InlineData("Mark(ref released)")]
    [InlineData("_marker.Mark(ref released)")]
    public Task A_flag_given_by_reference_to_a_method_the_analysis_cannot_see_into_hides_no_leak_on_the_paths_that_skip_the_call(string call) =>
        // The connection is never released. The path that makes the call tests a flag it cannot know and says nothing;
        // the one that skips the call knows the flag false, and leaks. The flag never given to such a call is followed.
        Verify.VerifyAnalyzerAsync(WithMarker($$"""
                protected virtual void Mark(ref bool flag) => flag = true;

                int Skipped(Pool pool, bool early)
                {
                    var conn = {|#0:pool.GetConnection()|};
                    var released = false;
                    if (early) {{call}};
                    if (!released) Log.Info("not marked");
                    return conn.Execute("select 1");
                }

                int Unmarked(Pool pool, bool early)
                {
                    var conn = {|#1:pool.GetConnection()|};
                    var released = false;
                    if (early) released = true;
                    if (!released) return conn.Execute("select 1");
                    {{call}};
                    return 0;
                }
            """),
            Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 30"),
            Verify.Diagnostic().WithLocation(1).WithArguments("'conn'", "on the path that returns at line 38"));

    [Fact]
    public Task A_flag_given_by_reference_to_a_method_that_is_given_the_connection_too_gives_no_report() =>
        // 'Release(conn, ref released)' and 'CloseQuietly(conn)' (a method of the code that releases its parameter) next to
        // the flag: whatever the flag says afterwards, the call may have released the connection and said so.
        Verify.VerifyAnalyzerAsync("""
            using Prelude;

            class C
            {
                static void Release(PooledConnection c, ref bool released) { c.Release(); released = true; }

                static void CloseQuietly(PooledConnection c)
                {
                    try { c.Release(); } catch { }
                }

                int ByReference(Pool pool, bool early)
                {
                    var conn = pool.GetConnection();
                    var released = false;
                    try
                    {
                        if (early)
                        {
                            Release(conn, ref released);
                            return 0;
                        }

                        return conn.Execute("select 1");
                    }
                    finally
                    {
                        if (!released) conn.Release();
                    }
                }

                static void CloseAfterLogging(PooledConnection c)
                {
                    Log.Info("closing");
                    c.Release();
                }

                int ThroughAMethodThatMayThrowFirst(Pool pool, bool early)
                {
                    var conn = pool.GetConnection();
                    var released = false;
                    System.Action done = () => { CloseAfterLogging(conn); released = true; };
                    try
                    {
                        if (early)
                        {
                            done();
                            return 0;
                        }

                        return conn.Execute("select 1");
                    }
                    finally
                    {
                        if (!released) conn.Release();
                    }
                }

                int ThroughAMethod(Pool pool, bool early)
                {
                    var conn = pool.GetConnection();
                    var released = false;
                    System.Action done = () => { CloseQuietly(conn); released = true; };
                    try
                    {
                        if (early)
                        {
                            done();
                            return 0;
                        }

                        return conn.Execute("select 1");
                    }
                    finally
                    {
                        if (!released) conn.Release();
                    }
                }
            }
            """);

    [Theory]
    [InlineData("Mark(ref released);", "on the path that returns at line 16")]
    [InlineData("Set(out released);", "on the path that returns at line 16")]
    [InlineData("released = true;", "on the path that returns at line 16")]
    [InlineData("Clear(ref released);", "if an exception is thrown at line 13")]
    public Task A_flag_that_a_method_sets_by_reference_has_the_value_the_method_gives_it(string set, string message) =>
        // 'Mark' ends by setting the flag true: after it, 'if (!released)' never releases and every path that returns
        // leaks, as after 'released = true'. 'Clear' sets it false: the release runs, and only an exception leaks.
        Verify.VerifyAnalyzerAsync($$"""
            using Prelude;

            class C
            {
                static void Mark(ref bool flag) { System.Console.WriteLine(); flag = true; }
                static void Clear(ref bool flag) { System.Console.WriteLine(); flag = false; }
                static void Set(out bool flag) { flag = true; }

                int M(Pool pool)
                {
                    var conn = {|#0:pool.GetConnection()|};
                    var released = false;
                    var n = conn.Execute("select 1");
                    {{set}}
                    if (!released) conn.Release();
                    return n;
                }
            }
            """,
            Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", message));

    [Fact]
    public Task A_flag_given_by_reference_or_set_beside_a_method_that_only_uses_the_connection_hides_no_leak() =>
        // 'Check(ref ok)' is not given the connection and may leave 'ok' false, and 'Inspect(conn)' only reads it: 'if (!ok)
        // return' still leaks.
        Verify.VerifyAnalyzerAsync("""
            using Prelude;

            class C
            {
                static void Check(ref bool ok) { if (System.Environment.TickCount > 0) ok = true; }

                static int Inspect(PooledConnection c) => c.Execute("select 1");

                int ByReference(Pool pool)
                {
                    var conn = {|#0:pool.GetConnection()|};
                    var ok = false;
                    Check(ref ok);
                    if (!ok) return 0;
                    var n = conn.Execute("select 1");
                    conn.Release();
                    return n;
                }

                int ThroughAMethod(Pool pool, bool early)
                {
                    var conn = {|#1:pool.GetConnection()|};
                    var ok = false;
                    System.Action check = () => { Inspect(conn); ok = true; };
                    if (early) check();
                    if (!ok) return 0;
                    var n = conn.Execute("select 1");
                    conn.Release();
                    return n;
                }
            }
            """,
            Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 14"),
            Verify.Diagnostic().WithLocation(1).WithArguments("'conn'", "on the path that returns at line 26"));

    [Theory]
    [InlineData("void Done() { var released = false; conn.Release(); released = true; }")]
    [InlineData("async void Done() { await System.Threading.Tasks.Task.Yield(); conn.Release(); released = true; }")]
    [InlineData("void Mark() => released = true; async void Done() { await System.Threading.Tasks.Task.Yield(); conn.Release(); Mark(); }")]
    public Task A_local_function_that_may_not_set_the_flag_when_it_returns_leaves_the_flag_unknown(string done) =>
        // Not followed: after the call the flag may be either value, and both outcomes of the 'finally' are taken.
        Verify.VerifyAnalyzerAsync(ReleasedByLocalFunction(done),
            Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that leaves the method after line 18"),
            Verify.Diagnostic(Descriptors.ConnectionUsedAfterRelease).WithLocation(1).WithLocation(2)
                .WithArguments("'conn'", "is released at line 15 and again in the 'finally' at line 24"));

    // ---------------------------------------------------------------- a condition that is a compile-time constant

    private static string UnderConstant(string body) => $$"""
        using Prelude;

        static class Settings { public const bool Audit = false; public const bool Always = true; public const int Level = 1; public const string Name = "main"; public const Mode Current = Mode.Off; public const double Ratio = 0.5; public const double NotANumber = double.NaN; public const string? Missing = null; public static readonly bool Configured = false; } enum Mode { Off, On }

        class C
        {
            private const bool Trace = false;

            int M(Pool pool, bool early)
            {
                {{body}}
            }

            static int Done(PooledConnection conn)
            {
                conn.Release();
                return 0;
            }
        }
        """;

    [Theory]
    [InlineData("var conn = pool.GetConnection(); if (true) { conn.Release(); } return 0;")]
    [InlineData("var conn = pool.GetConnection(); if (false) return 1; conn.Release(); return 0;")]
    [InlineData("const bool Audit = false; var conn = pool.GetConnection(); if (Audit) return 1; conn.Release(); return 0;")]
    [InlineData("var conn = pool.GetConnection(); if (Trace) return 1; conn.Release(); return 0;")]
    [InlineData("var conn = pool.GetConnection(); if (Settings.Audit) return 1; conn.Release(); return 0;")]
    [InlineData("var conn = pool.GetConnection(); if (!Settings.Always) return 1; conn.Release(); return 0;")]
    [InlineData("var conn = pool.GetConnection(); if (Settings.Level > 2) return 1; conn.Release(); return 0;")]
    [InlineData("var conn = pool.GetConnection(); if (Settings.Audit && early) return 1; conn.Release(); return 0;")]
    [InlineData("var conn = pool.GetConnection(); if (early && Settings.Audit) return 1; conn.Release(); return 0;")]
    [InlineData("var conn = pool.GetConnection(); if (Settings.Always || early) { conn.Release(); } return 0;")]
    [InlineData("var conn = pool.GetConnection(); while (true) { if (!early) continue; conn.Release(); return 1; }")]
    [InlineData("var conn = pool.GetConnection(); while (Settings.Always) { if (early) { conn.Release(); return 1; } }")]
    [InlineData("var conn = pool.GetConnection(); do { conn.Release(); } while (false); return 0;")]
    [InlineData("var conn = pool.GetConnection(); conn.Release(); if (false) conn.Execute(\"select 1\"); return 0;")]
    [InlineData("var conn = pool.GetConnection(); conn.Release(); if (Trace) conn.Release(); return 0;")]
    public Task A_branch_whose_condition_is_a_constant_is_not_followed_on_the_side_that_never_runs(string body) =>
        // 'if (false)', a 'const' local or field, a constant comparison, a constant operand of '&&' or '||', 'while (true)',
        // 'do ... while (false)': the side the constant rules out never runs, and neither leaks nor releases twice.
        Verify.VerifyAnalyzerAsync(UnderConstant(body));

    [Theory]
    [InlineData("var conn = {|#0:pool.GetConnection()|}; if (Settings.Configured) return 1; conn.Release(); return 0;")]
    [InlineData("var conn = {|#0:pool.GetConnection()|}; if (early || Settings.Audit) return 1; conn.Release(); return 0;")]
    [InlineData("var conn = {|#0:pool.GetConnection()|}; if (Settings.Always && early) return 1; conn.Release(); return 0;")]
    [InlineData("var conn = {|#0:pool.GetConnection()|}; if (!Settings.Audit) return 1; conn.Release(); return 0;")]
    [InlineData("var conn = {|#0:pool.GetConnection()|}; while (true) { if (early) return 1; conn.Execute(\"select 1\"); }")]
    public Task A_branch_whose_condition_is_not_a_constant_or_runs_its_leaking_side_is_still_reported(string body) =>
        // A 'static readonly' field is read at run time; a constant operand of '&&' or '||' leaves the other one to
        // decide; a constant that takes the leaking side takes it.
        Verify.VerifyAnalyzerAsync(UnderConstant(body),
            Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 11"));

    [Theory]
    [InlineData("var conn = pool.GetConnection(); if (Settings.Always is true || early) { conn.Release(); } return 0;")]
    [InlineData("var conn = pool.GetConnection(); if (Settings.Always is false) return 1; conn.Release(); return 0;")]
    [InlineData("var conn = pool.GetConnection(); if (Settings.Audit is not true) { conn.Release(); return 0; } return 1;")]
    [InlineData("var conn = pool.GetConnection(); if (Settings.Level is > 2) return 1; conn.Release(); return 0;")]
    [InlineData("var conn = pool.GetConnection(); if (Settings.Level is not (>= 1 and < 5)) return 1; conn.Release(); return 0;")]
    [InlineData("var conn = pool.GetConnection(); if (Settings.Level is 2 or 3) return 1; conn.Release(); return 0;")]
    [InlineData("var conn = pool.GetConnection(); if (Settings.Current is Mode.On) return 1; conn.Release(); return 0;")]
    [InlineData("const Mode Mode = Mode.Off; var conn = pool.GetConnection(); if (Mode is not Mode.Off) return 1; conn.Release(); return 0;")]
    [InlineData("var conn = pool.GetConnection(); if (Settings.Name is \"audit\") return 1; conn.Release(); return 0;")]
    [InlineData("var conn = pool.GetConnection(); if (Settings.Level is int) { conn.Release(); return 0; } return 1;")]
    [InlineData("var conn = pool.GetConnection(); if (early && Settings.Audit is true) return 1; conn.Release(); return 0;")]
    [InlineData("var conn = pool.GetConnection(); conn.Release(); if (Settings.Audit is true) conn.Release(); return 0;")]
    [InlineData("var conn = pool.GetConnection(); switch (Settings.Level) { case 1: conn.Release(); return 0; default: return 1; }")]
    [InlineData("var conn = pool.GetConnection(); switch (Settings.Level) { case > 2: return 1; default: conn.Release(); return 0; }")]
    [InlineData("var conn = pool.GetConnection(); switch (Settings.Current) { case Mode.On: return 1; case Mode.Off: conn.Release(); return 0; } return 2;")]
    [InlineData("var conn = pool.GetConnection(); var n = Settings.Level switch { 1 => Done(conn), _ => 1 }; return n;")]
    [InlineData("var conn = pool.GetConnection(); var stop = Settings.Level is > 2; if (stop) return 1; conn.Release(); return 0;")]
    [InlineData("var conn = pool.GetConnection(); return Settings.Current switch { Mode.Off => Done(conn), _ => 1 };")]
    [InlineData("var conn = pool.GetConnection(); conn.Release(); switch (Settings.Level) { case 2: conn.Execute(\"select 1\"); break; } return 0;")]
    [InlineData("var conn = pool.GetConnection(); conn.Release(); return Settings.Level switch { 2 => conn.Execute(\"select 1\"), _ => 0 };")]
    [InlineData("var conn = pool.GetConnection(); for (var i = 0; Settings.Always is true; i++) { conn.Release(); break; } return 0;")]
    [InlineData("var conn = pool.GetConnection(); if (Settings.Current is Mode.Off or Mode.On) { conn.Release(); return 0; } return 1;")]
    [InlineData("var conn = pool.GetConnection(); if (Settings.Level is < 0 or > 10) return 1; conn.Release(); return 0;")]
    [InlineData("var conn = pool.GetConnection(); if (!(Settings.Level is 1)) return 1; conn.Release(); return 0;")]
    [InlineData("var conn = pool.GetConnection(); var stop = !(Settings.Level is 1); if (stop) return 1; conn.Release(); return 0;")]
    [InlineData("var conn = pool.GetConnection(); if (Settings.Level is < 1) return 1; conn.Release(); return 0;")]
    [InlineData("var conn = pool.GetConnection(); if (Settings.Level is > 1) return 1; conn.Release(); return 0;")]
    [InlineData("var conn = pool.GetConnection(); if (Settings.Level is <= 0) return 1; conn.Release(); return 0;")]
    [InlineData("var conn = pool.GetConnection(); if (Settings.Level is <= 1) { conn.Release(); return 0; } return 1;")]
    [InlineData("var conn = pool.GetConnection(); if (Settings.Level is >= 1) { conn.Release(); return 0; } return 1;")]
    [InlineData("var conn = pool.GetConnection(); if (Settings.Name is \"main\") { conn.Release(); return 0; } return 1;")]
    [InlineData("var conn = pool.GetConnection(); if (Settings.Missing is null) { conn.Release(); return 0; } return 1;")]
    [InlineData("var conn = pool.GetConnection(); if (Settings.Missing is \"x\") return 1; conn.Release(); return 0;")]
    [InlineData("var conn = pool.GetConnection(); if (Settings.Missing is string) return 1; conn.Release(); return 0;")]
    [InlineData("var conn = pool.GetConnection(); if (Settings.Missing is string s) return s.Length; conn.Release(); return 0;")]
    [InlineData("var conn = pool.GetConnection(); if (Settings.Missing is { }) return 1; conn.Release(); return 0;")]
    [InlineData("var conn = pool.GetConnection(); if (Settings.Name is string t) { conn.Release(); return t.Length; } return 1;")]
    [InlineData("var conn = pool.GetConnection(); if (Settings.Name is { } u) { conn.Release(); return u.Length; } return 1;")]
    [InlineData("var conn = pool.GetConnection(); if (Settings.Level is object o) { conn.Release(); return o.GetHashCode(); } return 1;")]
    [InlineData("var conn = pool.GetConnection(); if (Settings.Level is int and > 0) { conn.Release(); return 0; } return 1;")]
    [InlineData("var conn = pool.GetConnection(); if (Settings.Ratio is > 0.7) return 1; conn.Release(); return 0;")]
    [InlineData("var conn = pool.GetConnection(); if (Settings.Ratio is >= 0.5 and < 1.0) { conn.Release(); return 0; } return 1;")]
    public Task A_branch_whose_condition_is_a_pattern_over_a_constant_is_not_followed_on_the_side_that_never_runs(string body) =>
        // 'Audit is true', 'Level is > 2', 'is not', 'and' / 'or', an enum constant, a type pattern the constant's own type
        // matches, a 'switch' statement or expression on a constant: the value is known, so is the side taken.
        Verify.VerifyAnalyzerAsync(UnderConstant(body));

    [Theory]
    [InlineData("var conn = pool.GetConnection(); if (conn is { } c) c.Release(); return 0;")]
    [InlineData("var conn = pool.GetConnection(); if (conn is not null && Settings.Always) conn.Release(); return 0;")]
    [InlineData("var conn = pool.GetConnection(); if (Settings.Always && conn != null) conn.Release(); return 0;")]
    [InlineData("var conn = pool.GetConnection(); while (Settings.Level is 1) { conn.Release(); break; } return 0;")]
    [InlineData("var conn = pool.GetConnection(); switch (conn) { case { } c: c.Release(); break; } return 0;")]
    [InlineData("var conn = pool.GetConnection(); conn?.Release(); return 0;")]
    [InlineData("var conn = pool.GetConnection(); return early switch { true => Done(conn), false => Done(conn) };")]
    [InlineData("var conn = pool.GetConnection(); if (Settings.Always is true and true) { conn.Release(); } return 0;")]
    [InlineData("var conn = pool.GetConnection(); if (early is true || Settings.Always) { conn.Release(); } return 0;")]
    public Task A_null_test_beside_a_constant_or_an_exhaustive_switch_expression_releases_on_every_path(string body) =>
        // A switch expression the compiler knows to be exhaustive ('true' and 'false' arms) never throws after its last arm.
        Verify.VerifyAnalyzerAsync(UnderConstant(body));

    [Theory]
    [InlineData("if (pool.GetConnection() is { } conn) { try { return conn.Execute(\"x\"); } finally { conn.Release(); } } return 1;")]
    [InlineData("if (pool.GetConnection() is PooledConnection conn) { conn.Release(); } return 1;")]
    [InlineData("if (pool.GetConnection() is not { } conn) { return 1; } conn.Release(); return 0;")]
    [InlineData("if (!(pool.GetConnection() is { } conn)) return 1; conn.Release(); return 0;")]
    [InlineData("if ((pool.GetConnection()) is { } conn && early) { conn.Release(); return 0; } return 1;")]
    public Task An_acquisition_that_a_pattern_names_is_null_on_the_side_where_the_pattern_fails(string body) =>
        // '{ }' and a declaration of the call's own type fail only for null: nothing to release on that side. (The last
        // row releases nowhere when 'early' is false: see the next test.)
        body.Contains("&& early", StringComparison.Ordinal)
            ? Verify.VerifyAnalyzerAsync(UnderConstant(body.Replace("(pool.GetConnection())", "({|#0:pool.GetConnection()|})", StringComparison.Ordinal)),
                Verify.Diagnostic().WithLocation(0).WithArguments("The result of 'GetConnection'", "on the path that returns at line 11"))
            : Verify.VerifyAnalyzerAsync(UnderConstant(body));

    [Theory]
    [InlineData("if ({|#0:pool.GetConnection()|} is { } conn) { conn.Execute(\"x\"); } return 1;", "on the path that returns at line 11")]
    [InlineData("if ({|#0:pool.GetConnection()|} is { Inner: not null } conn) { conn.Release(); } return 1;", "on the path that returns at line 11")]
    [InlineData("if ({|#0:pool.GetConnection()|} is not { } conn) { return 1; } return conn.Execute(\"x\");", "on the path that returns at line 11")]
    public Task An_acquisition_that_a_pattern_names_and_that_is_not_released_inside_or_may_not_match_is_still_reported(string body, string message) =>
        // A property test can fail for a connection: that side keeps it.
        Verify.VerifyAnalyzerAsync(UnderConstant(body),
            Verify.Diagnostic().WithLocation(0).WithArguments("The result of 'GetConnection'", message));

    [Theory]
    [InlineData("var conn = {|#0:pool.GetConnection()|}; return early switch { true => Done(conn), false => 1 };", "on the path that returns at line 11")]
    [InlineData("var conn = {|#0:pool.GetConnection()|}; return Settings.Level switch { 2 => Done(conn), 3 => 1 };", "if an exception is thrown at line 11")]
    public Task A_switch_expression_arm_that_does_not_release_or_one_that_throws_is_still_reported(string body, string message) =>
        // The 'false' arm keeps the connection; a constant that no arm matches throws SwitchExpressionException.
        Verify.VerifyAnalyzerAsync(UnderConstant(body),
            Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", message));

    [Theory]
    [InlineData("var conn = {|#0:pool.GetConnection()|}; if (Settings.Always is true) return 1; conn.Release(); return 0;")]
    [InlineData("var conn = {|#0:pool.GetConnection()|}; if (Settings.Level is >= 1 and < 5) return 1; conn.Release(); return 0;")]
    [InlineData("var conn = {|#0:pool.GetConnection()|}; if (Settings.Current is not Mode.On) return 1; conn.Release(); return 0;")]
    [InlineData("var conn = {|#0:pool.GetConnection()|}; if (Settings.Configured is false) return 1; conn.Release(); return 0;")]
    [InlineData("var conn = {|#0:pool.GetConnection()|}; if (Settings.Audit is false || early) return 1; conn.Release(); return 0;")]
    [InlineData("var conn = {|#0:pool.GetConnection()|}; if (Settings.Level is int) return 1; conn.Release(); return 0;")]
    [InlineData("var conn = {|#0:pool.GetConnection()|}; switch (Settings.Level) { case 1: return 1; default: conn.Release(); return 0; }")]
    [InlineData("var conn = {|#0:pool.GetConnection()|}; switch (Settings.Current) { case Mode.Off: return 1; } conn.Release(); return 0;")]
    [InlineData("var conn = {|#0:pool.GetConnection()|}; if (Settings.Level is long) { conn.Release(); return 0; } return 1;")]
    [InlineData("var conn = {|#0:pool.GetConnection()|}; if (Settings.Level is System.IComparable or 2) return 1; conn.Release(); return 0;")]
    [InlineData("var conn = {|#0:pool.GetConnection()|}; if (Settings.NotANumber is < 0.5) { conn.Release(); return 0; } return 1;")]
    public Task A_pattern_over_a_constant_that_takes_the_leaking_side_or_over_a_value_read_at_run_time_is_still_reported(string body) =>
        Verify.VerifyAnalyzerAsync(UnderConstant(body),
            Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 11"));

    [Theory]
    [InlineData("sbyte", "-3", "> -2")]
    [InlineData("byte", "200", "< 100")]
    [InlineData("short", "-300", ">= -299")]
    [InlineData("ushort", "60000", "<= 59999")]
    [InlineData("int", "-7", "> 0")]
    [InlineData("uint", "4000000000", "< 3999999999")]
    [InlineData("long", "-5000000000", "> -4999999999")]
    [InlineData("ulong", "18000000000000000000", "< 17999999999999999999")]
    [InlineData("char", "'b'", "> 'c'")]
    [InlineData("decimal", "2.5m", "< 2.4m")]
    [InlineData("float", "0.25f", ">= 0.5f")]
    [InlineData("double", "-1e300", "> -1e299")]
    [InlineData("double", "double.PositiveInfinity", "< double.MaxValue")]
    public Task A_relational_pattern_over_a_constant_of_any_numeric_type_decides_the_branch(string type, string value, string pattern)
    {
        // The comparison is false for the constant: the side that leaks never runs. The same pattern negated takes it.
        var declaration = $"const {type} Limit = {value}; ";
        return Task.WhenAll(
            Verify.VerifyAnalyzerAsync(UnderConstant(
                declaration + $"var conn = pool.GetConnection(); if (Limit is {pattern}) return 1; conn.Release(); return 0;")),
            Verify.VerifyAnalyzerAsync(
                UnderConstant(declaration + $"var conn = {{|#0:pool.GetConnection()|}}; if (Limit is not ({pattern})) return 1; conn.Release(); return 0;"),
                Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 11")));
    }

    [Theory]
    [InlineData("float", "float.NaN", "> 0f")]
    [InlineData("double", "double.NaN", "<= 0.0")]
    public Task A_relational_pattern_over_a_NaN_constant_decides_nothing(string type, string value, string pattern) =>
        // Not certain: both sides are followed, and the one that leaks is reported whichever way the pattern is written.
        Task.WhenAll(
            Verify.VerifyAnalyzerAsync(
                UnderConstant($"const {type} Limit = {value}; var conn = {{|#0:pool.GetConnection()|}}; if (Limit is {pattern}) return 1; conn.Release(); return 0;"),
                Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 11")),
            Verify.VerifyAnalyzerAsync(
                UnderConstant($"const {type} Limit = {value}; var conn = {{|#0:pool.GetConnection()|}}; if (Limit is not ({pattern})) return 1; conn.Release(); return 0;"),
                Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 11")));

    // ---------------------------------------------------------------- a task tested for success in 'finally'

    private static string TasksReleasedWhen(string condition) => $$"""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(Pool pool)
            {
                var a = {|#0:pool.GetConnectionAsync()|};
                try
                {
                    await a;
                    return a.Result.Execute("select 1");
                }
                finally
                {
                    if ({{condition}})
                    {
                        a.Result.Release();
                    }
                }
            }
        }
        """;

    [Theory]
    [InlineData("a.IsCompletedSuccessfully")]
    [InlineData("a.IsCompletedSuccessfully == true")]
    [InlineData("!(a.IsCompletedSuccessfully == false)")]
    public Task Task_released_in_finally_when_it_completed_successfully_is_not_reported(string condition) =>
        Verify.VerifyAnalyzerAsync(TasksReleasedWhen(condition).Replace("{|#0:", "").Replace("|}", ""));

    [Theory]
    [InlineData("!a.IsCompletedSuccessfully")]
    [InlineData("a.IsFaulted")]
    [InlineData("a.IsCompleted")]
    public Task Task_released_in_finally_under_another_test_is_reported(string condition) =>
        Verify.VerifyAnalyzerAsync(TasksReleasedWhen(condition),
            Verify.Diagnostic().WithLocation(0).WithArguments("'a'", "on the path that returns at line 12"));

    // ---------------------------------------------------------------- a local the path left null, tested by '??', '?.' or '=='

    private static string ReleasedThroughChoice(string assignments, string release) => $$"""
        using Prelude;

        class C
        {
            PooledConnection? Find() => null;
            void Fill(ref PooledConnection? c) { }
            void Peek(PooledConnection? c) { }

            int M(Pool pool, Pool spare, bool flag, object o)
            {
                PooledConnection? last = null;
                PooledConnection? other = null;
                {{assignments}}
                var conn = {|#0:pool.GetConnection()|};
                try
                {
                    return conn.Execute("select 1");
                }
                finally
                {
                    {{release}}
                }
            }
        }
        """;

    [Theory]
    [InlineData("", "(last ?? conn).Release();")]
    [InlineData("", "(last ?? other ?? conn).Release();")]
    [InlineData("", "(last ?? other)?.Release(); (other ?? conn).Release();")]
    [InlineData("", "if (last == null) conn.Release();")]
    [InlineData("", "if (null == last) conn.Release();")]
    [InlineData("", "if (last is null) conn.Release();")]
    [InlineData("", "if (!(last is not null)) conn.Release();")]
    [InlineData("", "if (last != null) last.Release(); else conn.Release();")]
    [InlineData("other = Find(); last = null;", "(last ?? conn).Release();")]
    [InlineData("if (flag) last = spare.GetConnection(); last?.Release(); last = null;", "(last ?? conn).Release();")]
    [InlineData("last = default;", "(last ?? conn).Release();")]
    [InlineData("last = (PooledConnection?)null;", "(last ?? conn).Release();")]
    [InlineData("Peek(last);", "(last ?? conn).Release();")]
    public Task Released_through_a_choice_whose_other_side_the_path_left_null_is_not_reported(string assignments, string release) =>
        Verify.VerifyAnalyzerAsync(ReleasedThroughChoice(assignments, release).Replace("{|#0:pool.GetConnection()|}", "pool.GetConnection()"));

    [Theory]
    [InlineData("last = Find();", "(last ?? conn).Release();")]
    [InlineData("if (flag) last = Find();", "(last ?? conn).Release();")]
    [InlineData("if (flag) other = Find();", "(last ?? other ?? conn).Release();")]
    [InlineData("Fill(ref last);", "(last ?? conn).Release();")]
    [InlineData("if (o is PooledConnection found) last = found;", "(last ?? conn).Release();")]
    [InlineData("System.Action set = () => last = Find(); set();", "(last ?? conn).Release();")]
    [InlineData("(last, other) = (Find(), null);", "(last ?? conn).Release();")]
    [InlineData("last ??= Find();", "(last ?? conn).Release();")]
    [InlineData("last = null; last = Find();", "if (last == null) conn.Release();")]
    [InlineData("", "if (last != null) conn.Release();")]
    [InlineData("", "if (other == null) { } else { conn.Release(); }")]
    [InlineData("ref var alias = ref last; alias = Find();", "(last ?? conn).Release();")]
    [InlineData("System.Action set = () => last = Find(); System.Action nothing = () => { }; set();", "(last ?? conn).Release();")]
    [InlineData("void Set() => last = Find(); Set();", "(last ?? conn).Release();")]
    public Task Released_through_a_choice_whose_other_side_may_be_set_is_reported(string assignments, string release) =>
        Verify.VerifyAnalyzerAsync(ReleasedThroughChoice(assignments, release),
            Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 17"));

    [Fact]
    public Task A_local_of_the_enclosing_method_left_null_in_a_lambda_may_be_set_by_the_method_meanwhile() => Verify.VerifyAnalyzerAsync("""
        using System;
        using Prelude;

        class C
        {
            void M(Pool pool, Func<PooledConnection?> find)
            {
                PooledConnection? cached = null;
                Action refresh = () => cached = find();
                Action work = () =>
                {
                    cached = null;
                    var conn = {|#0:pool.GetConnection()|};
                    refresh();
                    (cached ?? conn).Release();
                };
                work();
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that leaves the method after line 15"));

    [Fact]
    public Task A_local_left_null_in_an_earlier_turn_of_a_loop_is_not_null_in_the_next() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool, int n)
            {
                PooledConnection? previous = null;
                for (var i = 0; i < n; i++)
                {
                    var conn = {|#0:pool.GetConnection()|};
                    (previous ?? conn).Release();
                    previous = conn;
                }
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "when it is acquired again at line 10"));

    [Fact]
    public Task A_local_a_lambda_may_set_is_not_known_null_beside_a_local_function_either() => Verify.VerifyAnalyzerAsync("""
        using System;
        using Prelude;

        class C
        {
            void M(Pool pool, PooledConnection other, bool check)
            {
                PooledConnection? primary = null;
                Action borrow = () => primary = other;
                var conn = primary ?? {|#0:pool.GetConnection()|};
                if (check)
                {
                    borrow();
                }

                try
                {
                    conn.Execute(Describe());
                }
                finally
                {
                    if (primary == null)
                    {
                        conn.Release();
                    }
                }

                static string Describe() => "select 1";
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that leaves the method after line 18"));
}
