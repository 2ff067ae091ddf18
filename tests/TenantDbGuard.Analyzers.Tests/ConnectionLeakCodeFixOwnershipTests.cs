using TenantDbGuard.Analyzers.Tests.FixExecution;
using TenantDbGuard.Analyzers.Tests.Verifiers;
using Verify = TenantDbGuard.Analyzers.Tests.Verifiers.CSharpCodeFixVerifier<
    TenantDbGuard.Analyzers.ConnectionLeakAnalyzer,
    TenantDbGuard.CodeFixes.ConnectionLeakCodeFixProvider>;

namespace TenantDbGuard.Analyzers.Tests;

/// <summary>
/// The fix never releases a connection that leaves the method: returned, stored in a field or a collection, handed to
/// <c>Interlocked</c>, captured by something that outlives the call, owned by a reader opened with
/// <c>CommandBehavior.CloseConnection</c>, or a pool rather than a connection. Where the hand-off point is clear it
/// releases on failure only; where it is not, it offers nothing, whatever the analyzer reports (the no-fix cases give
/// the provider a TDG001 of their own, so they hold however the analyzer decides).
/// </summary>
[Collection(FixExecutionCollection.Name)]
public sealed class ConnectionLeakCodeFixOwnershipTests
{
    private const string DisposeOnFailure = "TDG001.DisposeOnFailure";

    // ---------------------------------------------------------------- readers that own their connection

    [Fact]
    public Task Connection_of_a_returned_CloseConnection_reader_is_disposed_on_failure_only() => Verify.VerifyCodeFixAsync("""
        using System.Data;
        using System.Data.Common;
        using MySqlConnector;

        class C
        {
            DbDataReader M(string connectionString)
            {
                var conn = new MySqlConnection(connectionString);
                [|conn.Open()|];
                var command = new MySqlCommand("select name from customers order by id", conn);
                return command.ExecuteReader(CommandBehavior.CloseConnection);
            }
        }
        """, """
        using System.Data;
        using System.Data.Common;
        using MySqlConnector;

        class C
        {
            DbDataReader M(string connectionString)
            {
                var conn = new MySqlConnection(connectionString);
                try
                {
                    conn.Open();
                    var command = new MySqlCommand("select name from customers order by id", conn);
                    return command.ExecuteReader(CommandBehavior.CloseConnection);
                }
                catch
                {
                    conn.Dispose();
                    throw;
                }
            }
        }
        """);

    [Fact]
    public Task Connection_of_a_CloseConnection_reader_returned_inside_a_wrapper_is_disposed_on_failure_only() => Verify.VerifyCodeFixAsync("""
        using System.Collections;
        using System.Collections.Generic;
        using System.Data;
        using System.Data.Common;
        using System.Threading.Tasks;
        using MySqlConnector;

        sealed class Names : IEnumerable<string>
        {
            private readonly DbDataReader _reader;

            public Names(DbDataReader reader) => _reader = reader;

            public IEnumerator<string> GetEnumerator()
            {
                using (_reader)
                {
                    while (_reader.Read())
                    {
                        yield return _reader.GetString(0);
                    }
                }
            }

            IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
        }

        class C
        {
            async Task<Names> M(string connectionString)
            {
                var conn = new MySqlConnection(connectionString);
                await [|conn.OpenAsync()|];
                var command = new MySqlCommand("select name from customers order by id", conn);
                var reader = await command.ExecuteReaderAsync(CommandBehavior.CloseConnection);
                return new Names(reader);
            }
        }
        """, """
        using System.Collections;
        using System.Collections.Generic;
        using System.Data;
        using System.Data.Common;
        using System.Threading.Tasks;
        using MySqlConnector;

        sealed class Names : IEnumerable<string>
        {
            private readonly DbDataReader _reader;

            public Names(DbDataReader reader) => _reader = reader;

            public IEnumerator<string> GetEnumerator()
            {
                using (_reader)
                {
                    while (_reader.Read())
                    {
                        yield return _reader.GetString(0);
                    }
                }
            }

            IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
        }

        class C
        {
            async Task<Names> M(string connectionString)
            {
                var conn = new MySqlConnection(connectionString);
                try
                {
                    await conn.OpenAsync();
                    var command = new MySqlCommand("select name from customers order by id", conn);
                    var reader = await command.ExecuteReaderAsync(CommandBehavior.CloseConnection);
                    return new Names(reader);
                }
                catch
                {
                    await conn.DisposeAsync();
                    throw;
                }
            }
        }
        """, DisposeOnFailure);

    [Fact]
    public Task Cloned_connection_whose_CloseConnection_reader_is_returned_is_disposed_on_failure_only() => Verify.VerifyCodeFixAsync("""
        using System.Data;
        using System.Data.Common;
        using MySqlConnector;

        class C
        {
            DbDataReader M(MySqlConnection template)
            {
                var clone = template.Clone();
                [|clone.Open()|];
                var command = new MySqlCommand("select name from customers order by id", clone);
                return command.ExecuteReader(CommandBehavior.CloseConnection);
            }
        }
        """, """
        using System.Data;
        using System.Data.Common;
        using MySqlConnector;

        class C
        {
            DbDataReader M(MySqlConnection template)
            {
                var clone = template.Clone();
                try
                {
                    clone.Open();
                    var command = new MySqlCommand("select name from customers order by id", clone);
                    return command.ExecuteReader(CommandBehavior.CloseConnection);
                }
                catch
                {
                    clone.Dispose();
                    throw;
                }
            }
        }
        """);

    [Fact]
    public Task Connection_behind_a_returned_reader_without_CloseConnection_gets_no_fix() => NoFixVerifier.VerifyAsync("""
        using System.Data.Common;
        using MySqlConnector;

        class C
        {
            DbDataReader M(string connectionString)
            {
                var conn = new MySqlConnection(connectionString);
                [|conn.Open()|];
                var command = new MySqlCommand("select name from customers", conn);
                return command.ExecuteReader();
            }
        }
        """);

    [Fact]
    public Task Connection_kept_by_what_an_expression_bodied_lambda_returns_gets_no_fix() => NoFixVerifier.VerifyAsync("""
        using System;
        using Prelude;

        sealed class Holder : IDisposable
        {
            private readonly PooledConnection _connection;

            public Holder(PooledConnection connection, string name) => _connection = connection;

            public int Run() => _connection.Execute("select 1");

            public void Dispose()
            {
            }
        }

        class C
        {
            // Releasing the connection when the lambda returns would hand its caller a holder of a released connection.
            Func<Holder> Factory(Pool pool) => () => new Holder([|pool.GetConnection()|], "audit");
        }
        """);

    /// <summary>
    /// A disposable scope of the code (a <c>KIND</c>, to be replaced) that keeps the connection it is given and releases it
    /// when disposed, closed or finished, and an extension method that disposes anything.
    /// </summary>
    private const string DisposableScope = """
        using System;
        using Prelude;

        KIND Scope : IDisposable
        {
            private readonly PooledConnection _connection;

            public Scope(PooledConnection connection) => _connection = connection;

            public Scope Touched()
            {
                Log.Info("touched");
                return this;
            }

            public int Count() => _connection.Execute("select 1");

            public void Close() => Dispose();

            public void Finish()
            {
                Log.Info("finished");
                Dispose();
            }

            public void Dispose() => _connection.Release();
        }

        static class Scopes
        {
            public static void Done(this IDisposable scope) => scope.Dispose();
        }

        """;

    [Theory]
    [InlineData("sealed class", "new Scope([|pool.GetConnection()|])", "scope.Dispose();")]
    [InlineData("sealed class", "new Scope([|pool.GetConnection()|]).Touched()", "scope.Dispose();")]
    [InlineData("struct", "new Scope([|pool.GetConnection()|])", "scope.Dispose();")]
    [InlineData("struct", "new Scope([|pool.GetConnection()|]).Touched()", "scope.Dispose();")]
    [InlineData("sealed class", "new Scope([|pool.GetConnection()|])", "scope?.Dispose();")]
    [InlineData("sealed class", "new Scope([|pool.GetConnection()|])", "scope.Close();")]
    [InlineData("sealed class", "new Scope([|pool.GetConnection()|])", "Finish(scope);")]
    [InlineData("struct", "new Scope([|pool.GetConnection()|])", "scope.Done();")]
    [InlineData("sealed class", "new Scope([|pool.GetConnection()|])", "scope.Finish();")]
    [InlineData("sealed class", "new Scope([|pool.GetConnection()|])", "scope?.Finish();")]
    public Task Connection_given_to_an_object_of_the_code_that_is_disposed_gets_no_fix(string kind, string made, string dispose) =>
        // Disposing the scope gives the connection back: a release of the connection itself in a 'finally' would be a
        // second one on every path that reaches the dispose.
        NoFixVerifier.VerifyAsync(DisposableScope.Replace("KIND", kind) + $$"""
            class C
            {
                static void Finish(Scope scope) => scope.Dispose();

                int Run(Pool pool, bool empty)
                {
                    var scope = {{made}};
                    if (empty)
                    {
                        return 0;
                    }

                    var count = scope.Count();
                    {{dispose}}
                    return count;
                }
            }
            """);

    [Theory]
    [InlineData("using var scope = new Scope([|pool.GetConnection()|]).Touched();\n        return skip ? 0 : scope.Count();")]
    [InlineData("using (var scope = new Scope([|pool.GetConnection()|]).Touched())\n        {\n            return skip ? 0 : scope.Count();\n        }")]
    public Task Connection_given_to_an_object_of_the_code_in_a_using_gets_no_fix(string body) =>
        // 'Touched' may throw before the 'using' holds the scope (the analyzer reports that), but on every other path the
        // scope's dispose gives the connection back: a release of the connection in a 'finally' would be a second one.
        NoFixVerifier.VerifyAsync(DisposableScope.Replace("KIND", "sealed class") + """
            class C
            {
                int Run(Pool pool, bool skip)
                {
                    BODY
                }
            }
            """.Replace("BODY", body));

    [Fact]
    public Task Connection_of_a_returned_transaction_gets_no_fix() => NoFixVerifier.VerifyAsync("""
        using MySqlConnector;

        class C
        {
            MySqlTransaction Begin(string connectionString)
            {
                var conn = new MySqlConnection(connectionString);
                [|conn.Open()|];
                return conn.BeginTransaction();
            }
        }
        """);

    [Theory]
    [InlineData("Action release = conn.Release;", "release();")]
    [InlineData("var release = new Action(conn.Release);", "release();")]
    [InlineData("Func<string, int> run = conn.Execute;", "run(\"select 2\"); conn.Release();")]
    public Task Connection_whose_method_is_taken_as_a_delegate_gets_no_fix(string delegateDeclaration, string call) => NoFixVerifier.VerifyAsync($$"""
        using System;
        using Prelude;

        class C
        {
            int M(Pool pool, bool fail)
            {
                var conn = [|pool.GetConnection()|];
                {{delegateDeclaration}}
                var n = conn.Execute("select 1");
                if (fail)
                {
                    throw new InvalidOperationException("x");
                }

                {{call}}
                return n;
            }
        }
        """);

    /// <summary>
    /// Plain objects of the code that hold the connection they are made from: a positional record (its parameter is a
    /// property the compiler writes), a record with a disposable lease, a class with a field, a class filled by an
    /// object initializer, and a method of the code named as a release.
    /// </summary>
    private const string LeaseHolders = """
        using System;
        using System.Threading.Tasks;
        using Prelude;

        public sealed record HeldLease(PooledConnection Lease, string Tenant);

        public sealed record HeldDisposableLease(ConnectionLease Lease, string Tenant);

        public readonly record struct LeaseValue(PooledConnection Lease, string Tenant);

        public sealed record Envelope(HeldLease Inner, int Attempt);

        public sealed class LeaseBox
        {
            public readonly PooledConnection Lease;

            public LeaseBox(PooledConnection lease) => Lease = lease;
        }

        public sealed class MutableLease
        {
            public PooledConnection Lease { get; set; } = null!;
        }

        static class Leases
        {
            public static void Release(PooledConnection lease) => lease.Release();
        }

        """;

    [Theory]
    [InlineData("var scope = new HeldLease([|pool.GetConnection()|], tenant);\nvar rows = scope.Lease.Execute(\"update tenants set seen = now()\");\nscope.Lease.Release();")]
    [InlineData("var conn = [|pool.GetConnection()|];\nvar scope = new HeldLease(conn, tenant);\nvar rows = scope.Lease.Execute(\"update tenants set seen = now()\");\nscope.Lease.Release();")]
    [InlineData("var scope = new HeldLease([|pool.GetConnection()|], tenant);\nvar named = scope with { Tenant = tenant + \"-copy\" };\nvar rows = named.Lease.Execute(\"update tenants set seen = now()\");\nnamed.Lease.Release();")]
    [InlineData("var scope = new LeaseValue([|pool.GetConnection()|], tenant);\nvar named = scope with { Tenant = tenant + \"-copy\" };\nvar rows = named.Lease.Execute(\"update tenants set seen = now()\");\nnamed.Lease.Release();")]
    [InlineData("var scope = new HeldLease([|pool.GetConnection()|], tenant);\nvar rows = scope.Lease.Execute(\"update tenants set seen = now()\");\nscope.Lease?.Release();")]
    [InlineData("var scope = new HeldLease([|pool.GetConnection()|], tenant);\nvar rows = scope.Lease.Execute(\"update tenants set seen = now()\");\nvar lease = scope.Lease;\nlease.Release();")]
    [InlineData("var scope = new HeldLease([|pool.GetConnection()|], tenant);\nvar rows = scope.Lease.Execute(\"update tenants set seen = now()\");\nLeases.Release(scope.Lease);")]
    [InlineData("var scope = new HeldDisposableLease([|leases.GetConnection()|], tenant);\nvar named = scope with { Tenant = tenant + \"-copy\" };\nvar rows = named.Lease.Execute(\"update tenants set seen = now()\");\nnamed.Lease.Dispose();")]
    [InlineData("var scope = new HeldDisposableLease([|leases.GetConnection()|], tenant);\nvar rows = scope.Lease.Execute(\"update tenants set seen = now()\");\nscope.Lease?.Dispose();")]
    [InlineData("var scope = new HeldDisposableLease([|leases.GetConnection()|], tenant);\nvar rows = await scope.Lease.ExecuteAsync(\"update tenants set seen = now()\");\nawait scope.Lease.DisposeAsync();")]
    [InlineData("var scope = new HeldLease([|pool.GetConnection()|], tenant);\nvar rows = scope.Lease.Execute(\"update tenants set seen = now()\");\nif (scope is { Lease: var lease })\n{\n    lease.Release();\n}")]
    [InlineData("var envelope = new Envelope(new HeldLease([|pool.GetConnection()|], tenant), 1);\nvar rows = envelope.Inner.Lease.Execute(\"update tenants set seen = now()\");\nenvelope.Inner.Lease.Release();")]
    [InlineData("var box = new LeaseBox([|pool.GetConnection()|]);\nvar rows = box.Lease.Execute(\"update tenants set seen = now()\");\nbox.Lease.Release();")]
    [InlineData("var box = new MutableLease { Lease = [|pool.GetConnection()|] };\nvar rows = box.Lease.Execute(\"update tenants set seen = now()\");\nbox.Lease.Release();")]
    public Task Connection_released_through_a_member_of_an_object_of_the_code_gets_no_fix(string body) =>
        // The object holds the connection: a release through its member ('scope.Lease.Release()', a 'with' copy's, a
        // local read from it) gives the connection back, and a release of the fix's own would be a second one on every
        // path that reaches it.
        NoFixVerifier.VerifyAsync(LeaseHolders + $$"""
            class C
            {
                async Task<int> RunAsync(Pool pool, LeasePool leases, string tenant)
                {
                    {{body.Replace("\n", "\n            ")}}
                    return rows;
                }
            }
            """);

    [Fact]
    public Task Connection_put_in_a_record_and_released_under_its_own_name_is_released_in_finally() => Verify.VerifyCodeFixAsync(LeaseHolders + """
        class C
        {
            int Run(Pool pool, string tenant)
            {
                var conn = [|pool.GetConnection()|];
                var scope = new HeldLease(conn, tenant);
                var named = scope with { Tenant = tenant + "-copy" };
                var rows = named.Lease.Execute("update tenants set seen = now()");
                conn.Release();
                return rows;
            }
        }
        """, LeaseHolders + """
        class C
        {
            int Run(Pool pool, string tenant)
            {
                var conn = pool.GetConnection();
                try
                {
                    var scope = new HeldLease(conn, tenant);
                    var named = scope with { Tenant = tenant + "-copy" };
                    var rows = named.Lease.Execute("update tenants set seen = now()");
                    return rows;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """);

    // ---------------------------------------------------------------- held where the fix cannot follow it

    [Theory]
    [InlineData("var other = conn;", "other.Release();")]
    [InlineData("PooledConnection other; other = conn;", "other.Release();")]
    [InlineData("PooledConnection other; Use(other = conn);", "other.Release();")]
    [InlineData("Swap(ref conn);", "conn.Release();")]
    [InlineData("var pair = (conn, 1);", "pair.conn.Release();")]
    [InlineData("var all = new List<PooledConnection> { conn };", "all[0].Release();")]
    [InlineData("var all = new[] { conn };", "all[0].Release();")]
    [InlineData("var holder = new { Conn = conn };", "holder.Conn.Release();")]
    [InlineData("Now(() => conn.Release());", "")]
    [InlineData("var other = Warm(conn);", "other.Release();")]
    [InlineData("var other = Warm(Warm(conn));", "other.Release();")]
    public Task Connection_held_or_released_where_the_fix_cannot_follow_it_gets_no_fix(string hold, string release) => NoFixVerifier.VerifyAsync($$"""
        using System;
        using System.Collections.Generic;
        using Prelude;

        class C
        {
            int M(Pool pool, bool fail)
            {
                var conn = [|pool.GetConnection()|];
                {{hold}}
                var n = conn.Execute("select 1");
                if (fail)
                {
                    throw new InvalidOperationException("x");
                }

                {{release}}
                return n;
            }

            static void Use(PooledConnection connection) { }

            static void Swap(ref PooledConnection connection) { }

            static void Now(Action action) => action();

            static PooledConnection Warm(PooledConnection connection)
            {
                connection.Execute("select 1");
                return connection;
            }
        }
        """);

    private const string Warmers = """
        using System.Threading.Tasks;
        using MySqlConnector;
        using Prelude;

        static class Warmers
        {
            public static PooledConnection Warm(this PooledConnection c)
            {
                c.Execute("select 1");
                return c;
            }

            public static async Task<MySqlConnection> WarmAsync(MySqlConnection c)
            {
                await c.PingAsync();
                return c;
            }

            public static void Drop(PooledConnection c) => c.Release();
        }

        """;

    [Theory]
    [InlineData("var warm = conn.Warm();\n        try\n        {\n            return warm.Execute(\"select 1\");\n        }\n        finally\n        {\n            warm.Release();\n        }")]
    [InlineData("var warm = conn.Warm();\n        var n = warm.Execute(\"select 1\");\n        warm.Release();\n        return n;")]
    public Task Connection_a_helper_gives_back_and_released_under_the_new_name_gets_no_fix(string body) =>
        NoFixVerifier.VerifyAsync(Warmers + "class C\n{\n    int M(Pool pool)\n    {\n        var conn = [|pool.GetConnection()|];\n        " + body + "\n    }\n}\n");

    /// <summary>
    /// Released through what a helper gave back, with no name of its own: the fix could neither move nor remove that
    /// release, and one of its own would give the connection back twice on the path that takes both.
    /// </summary>
    [Theory]
    [InlineData("conn.Warm().Release();")]
    [InlineData("conn.Warm()?.Release();")]
    [InlineData("Warmers.Drop(conn.Warm());")]
    [InlineData("if (conn.Warm() is PooledConnection warm)\n        {\n            warm.Release();\n        }\n")]
    public Task Connection_a_helper_gives_back_and_released_through_that_call_gets_no_fix(string release) =>
        NoFixVerifier.VerifyAsync(Warmers + "class C\n{\n    int M(Pool pool, bool done)\n    {\n        var conn = [|pool.GetConnection()|];\n        if (done)\n        {\n            return 0;\n        }\n\n        "
            + release + "\n        return 1;\n    }\n}\n");

    [Theory]
    [InlineData("using var warm = await Warmers.WarmAsync(conn);\n        return 1;")]
    [InlineData("using (var warm = await Warmers.WarmAsync(conn))\n        {\n        }\n\n        return 1;")]
    [InlineData("System.IDisposable warm = await Warmers.WarmAsync(conn);\n        warm.Dispose();\n        return 1;")]
    public Task Connection_a_helper_gives_back_and_disposed_under_the_new_name_gets_no_fix(string body) =>
        NoFixVerifier.VerifyAsync(Warmers + "class C\n{\n    async Task<int> M(MySqlDataSource ds)\n    {\n        var conn = [|ds.OpenConnection()|];\n        " + body + "\n    }\n}\n");

    [Fact]
    public Task Connection_a_helper_gives_back_and_never_released_is_released_in_finally_under_its_own_name() => Verify.VerifyCodeFixAsync(Warmers + """
        class C
        {
            int M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                var warm = conn.Warm();
                return warm.Execute("select 1");
            }
        }
        """, Warmers + """
        class C
        {
            int M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    var warm = conn.Warm();
                    return warm.Execute("select 1");
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """);

    [Theory]
    [InlineData("_command = new MySqlCommand(\"select 1\", conn);")]
    [InlineData("_commands.Add(new MySqlCommand(\"select 1\", conn));")]
    [InlineData("_holder = new Holder(new MySqlCommand(\"select 1\", conn));")]
    public Task Connection_whose_command_is_kept_gets_no_fix(string keep) => NoFixVerifier.VerifyAsync($$"""
        using System;
        using System.Collections.Generic;
        using MySqlConnector;

        // An object of the code that keeps a command: it keeps what the command needs, not the connection's ownership.
        sealed class Holder
        {
            public Holder(MySqlCommand command) => Command = command;

            public MySqlCommand Command { get; }
        }

        class C
        {
            private MySqlCommand? _command;
            private readonly List<MySqlCommand> _commands = new();
            private Holder? _holder;

            void M(MySqlDataSource dataSource, bool fail)
            {
                var conn = [|dataSource.OpenConnection()|];
                {{keep}}
                if (fail)
                {
                    throw new InvalidOperationException("x");
                }
            }
        }
        """);

    [Fact]
    public Task Connection_whose_command_is_kept_after_the_local_takes_another_value_gets_no_fix() => NoFixVerifier.VerifyAsync("""
        using System;
        using MySqlConnector;

        class C
        {
            private MySqlCommand? _command;

            void M(MySqlDataSource dataSource, bool fail)
            {
                var conn = [|dataSource.OpenConnection()|];
                var command = new MySqlCommand("select 1", conn);
                if (fail)
                {
                    throw new InvalidOperationException("x");
                }

                conn = null;
                _command = command;
            }
        }
        """);

    [Theory]
    [InlineData("var other = conn;")]
    [InlineData("PooledConnection other = conn;")]
    public Task Connection_also_held_by_another_local_gets_no_fix(string alias) => NoFixVerifier.VerifyAsync($$"""
        using Prelude;

        class C
        {
            int M(Pool pool, bool quick)
            {
                var conn = [|pool.GetConnection()|];
                {{alias}}
                if (quick)
                {
                    return 0;
                }

                var rows = other.Execute("delete from sessions");
                other.Release();
                return rows;
            }
        }
        """);

    // ---------------------------------------------------------------- stored: fields, Interlocked, collections

    [Fact]
    public Task Lease_published_with_Interlocked_CompareExchange_gets_no_fix() => NoFixVerifier.VerifyAsync("""
        using System.Threading;
        using Prelude;

        class C
        {
            private ConnectionLease _cached;

            int M(LeasePool pool)
            {
                var lease = [|pool.GetConnection()|];
                if (Interlocked.CompareExchange(ref _cached, lease, null) != null)
                {
                    lease.Dispose();
                }

                return _cached.Execute("select 1");
            }
        }
        """);

    [Fact]
    public Task Lease_swapped_in_with_Interlocked_Exchange_gets_no_fix() => NoFixVerifier.VerifyAsync("""
        using System.Threading;
        using Prelude;

        class C
        {
            private ConnectionLease _current;

            void Refresh(LeasePool pool)
            {
                var lease = [|pool.GetConnection()|];
                Interlocked.Exchange(ref _current, lease)?.Dispose();
            }
        }
        """);

    // A helper that hands the lease to a call with a ref argument may give it back under another name: the fix cannot
    // tell where it goes.
    [Fact]
    public Task Lease_swapped_in_by_a_helper_of_the_code_with_Interlocked_Exchange_gets_no_fix() => NoFixVerifier.VerifyAsync("""
        using System.Threading;
        using Prelude;

        class C
        {
            private ConnectionLease _current;

            void Publish(ConnectionLease lease) => Interlocked.Exchange(ref _current, lease)?.Dispose();

            void Refresh(LeasePool pool)
            {
                var lease = [|pool.GetConnection()|];
                lease.Execute("set names utf8mb4");
                Publish(lease);
                Log.Info("refreshed");
            }
        }
        """);

    private const string StoringHolder = """
        using System.Threading;
        using Prelude;

        sealed class Holder
        {
            private ConnectionLease _lease;

            public Holder(ConnectionLease lease)
            {
                STORE
            }

            public int Run(string sql) => _lease.Execute(sql);
        }


        """;

    // The object made from the connection keeps it (its constructor stores it, by assignment or through Interlocked) and
    // is returned: the connection leaves with it, and is released only when something fails before.
    [Theory]
    [InlineData("_lease = lease;")]
    [InlineData("Interlocked.Exchange(ref _lease, lease);")]
    public Task Lease_returned_inside_an_object_whose_constructor_stores_it_is_released_on_failure_only(string store) => Verify.VerifyCodeFixAsync((StoringHolder + """
        class C
        {
            Holder Open(LeasePool pool)
            {
                var lease = [|pool.GetConnection()|];
                lease.Execute("set names utf8mb4");
                return new Holder(lease);
            }
        }
        """).Replace("STORE", store), (StoringHolder + """
        class C
        {
            Holder Open(LeasePool pool)
            {
                var lease = pool.GetConnection();
                try
                {
                    lease.Execute("set names utf8mb4");
                    return new Holder(lease);
                }
                catch
                {
                    lease.Dispose();
                    throw;
                }
            }
        }
        """).Replace("STORE", store));

    [Fact]
    public Task Lease_prepared_then_cached_in_a_dictionary_is_released_on_failure_before_the_cache_takes_it() => Verify.VerifyCodeFixAsync("""
        using System.Collections.Generic;
        using Prelude;

        class C
        {
            private readonly Dictionary<string, PooledConnection> _byTenant = new();

            PooledConnection Open(Pool pool, string tenant)
            {
                var conn = [|pool.GetConnection()|];
                conn.Execute("use " + tenant);
                _byTenant[tenant] = conn;
                conn.Execute("set names utf8mb4");
                return conn;
            }
        }
        """, """
        using System.Collections.Generic;
        using Prelude;

        class C
        {
            private readonly Dictionary<string, PooledConnection> _byTenant = new();

            PooledConnection Open(Pool pool, string tenant)
            {
                var conn = pool.GetConnection();
                try
                {
                    conn.Execute("use " + tenant);
                }
                catch
                {
                    conn.Release();
                    throw;
                }

                _byTenant[tenant] = conn;
                conn.Execute("set names utf8mb4");
                return conn;
            }
        }
        """);

    [Fact]
    public Task Lease_stored_twice_is_released_on_failure_before_the_first_store_only() => Verify.VerifyCodeFixAsync("""
        using System.Collections.Generic;
        using Prelude;

        class C
        {
            private readonly Dictionary<string, PooledConnection> _byTenant = new();
            private PooledConnection _last;

            PooledConnection Open(Pool pool, string tenant)
            {
                var conn = [|pool.GetConnection()|];
                conn.Execute("use " + tenant);
                _byTenant[tenant] = conn;
                conn.Execute("set names utf8mb4");
                _last = conn;
                return conn;
            }
        }
        """, """
        using System.Collections.Generic;
        using Prelude;

        class C
        {
            private readonly Dictionary<string, PooledConnection> _byTenant = new();
            private PooledConnection _last;

            PooledConnection Open(Pool pool, string tenant)
            {
                var conn = pool.GetConnection();
                try
                {
                    conn.Execute("use " + tenant);
                }
                catch
                {
                    conn.Release();
                    throw;
                }

                _byTenant[tenant] = conn;
                conn.Execute("set names utf8mb4");
                _last = conn;
                return conn;
            }
        }
        """, execution: Execution.Skip("the connections stay in the fields, as the method intends"));

    [Fact]
    public Task A_local_read_after_the_hand_off_is_declared_before_the_try_that_releases_on_failure() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int Open(Pool pool, out PooledConnection held)
            {
                var conn = [|pool.GetConnection()|];
                var applied = conn.Execute("set names utf8mb4");
                held = conn;
                return applied;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int Open(Pool pool, out PooledConnection held)
            {
                var conn = pool.GetConnection();
                int applied;
                try
                {
                    applied = conn.Execute("set names utf8mb4");
                }
                catch
                {
                    conn.Release();
                    throw;
                }

                held = conn;
                return applied;
            }
        }
        """);

    [Fact]
    public Task An_out_variable_read_after_the_hand_off_gets_no_fix() => NoFixVerifier.VerifyAsync("""
        using Prelude;

        class C
        {
            private PooledConnection? _held;

            int Open(Pool pool, string text)
            {
                var conn = [|pool.GetConnection()|];
                var applied = int.TryParse(text, out var parsed) && conn.Execute("set names utf8mb4") > 0;
                _held = conn;
                return parsed;
            }
        }
        """);

    [Fact]
    public Task A_return_the_code_already_released_before_gets_no_second_release() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            PooledConnection? Open(Pool pool, int mode)
            {
                var conn = [|pool.GetConnection()|];
                conn.Execute("set names utf8mb4");
                if (mode == 1)
                {
                    conn.Release();
                    return null;
                }

                if (mode == 2)
                {
                    return null;
                }

                if (mode == 3)
                {
                    return conn;
                }

                conn.Release();
                return null;
            }
        }
        """, """
        using Prelude;

        class C
        {
            PooledConnection? Open(Pool pool, int mode)
            {
                var conn = pool.GetConnection();
                try
                {
                    conn.Execute("set names utf8mb4");
                    if (mode == 1)
                    {
                        conn.Release();
                        return null;
                    }

                    if (mode == 2)
                    {
                        conn.Release();
                        return null;
                    }

                    if (mode == 3)
                    {
                        return conn;
                    }

                    conn.Release();
                    return null;
                }
                catch
                {
                    conn.Release();
                    throw;
                }
            }
        }
        """);

    [Fact]
    public Task A_return_under_an_if_without_a_block_gets_a_block_and_keeps_its_comment() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            PooledConnection? Open(Pool pool, int mode)
            {
                var conn = [|pool.GetConnection()|];
                conn.Execute("set names utf8mb4");
                if (mode == 2) return null; // nothing to open
                Log.Info("opened");
                return conn;
            }
        }
        """, """
        using Prelude;

        class C
        {
            PooledConnection? Open(Pool pool, int mode)
            {
                var conn = pool.GetConnection();
                try
                {
                    conn.Execute("set names utf8mb4");
                    if (mode == 2)
                    {
                        conn.Release();
                        return null; // nothing to open
                    }
                    Log.Info("opened");
                    return conn;
                }
                catch
                {
                    conn.Release();
                    throw;
                }
            }
        }
        """);

    [Fact]
    public Task A_return_that_a_release_reaches_on_some_paths_only_gets_no_fix() => NoFixVerifier.VerifyAsync("""
        using Prelude;

        class C
        {
            PooledConnection? Open(Pool pool, bool keep, bool audited)
            {
                var conn = [|pool.GetConnection()|];
                conn.Execute("set names utf8mb4");
                if (keep)
                {
                    return conn;
                }

                if (audited)
                {
                    conn.Release();
                }

                return null;
            }
        }
        """);

    [Theory]
    [InlineData("throw new System.InvalidOperationException(\"no rows\");")]
    [InlineData("Log.Info(\"no rows\");\n                    return null;")]
    public Task A_release_followed_by_code_that_can_throw_gets_no_fix_that_would_release_again_on_failure(string after) => NoFixVerifier.VerifyAsync($$"""
        using Prelude;

        class C
        {
            PooledConnection? Open(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                if (conn.Execute("select 1") == 0)
                {
                    conn.Release();
                    {{after}}
                }

                return conn;
            }
        }
        """);

    [Fact]
    public Task Connection_added_to_a_list_inside_a_branch_gets_no_fix() => NoFixVerifier.VerifyAsync("""
        using System.Collections.Generic;
        using Prelude;

        class C
        {
            private readonly List<PooledConnection> _open = new();

            void M(Pool pool, bool keep)
            {
                var conn = [|pool.GetConnection()|];
                conn.Execute("select 1");
                if (keep)
                {
                    _open.Add(conn);
                }
                else
                {
                    conn.Release();
                }
            }
        }
        """);

    // One store where the statement is the block's own, another inside a branch: no one point where the store takes it over.
    [Fact]
    public Task Connection_stored_both_inside_a_branch_and_after_it_gets_no_fix() => NoFixVerifier.VerifyAsync("""
        using System.Collections.Generic;
        using Prelude;

        class C
        {
            private readonly List<PooledConnection> _open = new();
            private PooledConnection _last;

            void M(Pool pool, bool keep)
            {
                var conn = [|pool.GetConnection()|];
                conn.Execute("select 1");
                if (keep)
                {
                    _open.Add(conn);
                }

                _last = conn;
            }
        }
        """);

    // A call on the connection that is not a release (CreateCommand) makes something that needs it: kept in a field, it
    // keeps the connection too, and a release by the fix would close it under the command.
    [Fact]
    public Task Connection_whose_command_is_kept_in_a_field_gets_no_fix() => NoFixVerifier.VerifyAsync("""
        using MySqlConnector;
        using Prelude;

        class C
        {
            private MySqlCommand _command;

            void M(ConnectionFactory factory)
            {
                var conn = [|factory.GetConnection()|];
                conn.Open();
                var command = conn.CreateCommand();
                _command = command;
            }
        }
        """);

    // A lambda given to a call whose ValueTask is returned, not awaited, may run after the method has returned: the
    // connection it uses cannot be released at the end of the method.
    [Fact]
    public Task Connection_used_by_a_lambda_whose_call_s_ValueTask_is_returned_gets_no_fix() => NoFixVerifier.VerifyAsync("""
        using System;
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            static ValueTask<int> Later(Func<int> work) => new(Task.Run(work));

            ValueTask<int> M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                return Later(() => conn.Execute("select 1"));
            }
        }
        """);

    // A ValueTask is not disposable: it is followed as a task that may still be working with the connection when it is
    // kept, and releasing the connection under it would break the transaction it is starting.
    [Fact]
    public Task Connection_whose_unawaited_ValueTask_is_kept_in_a_field_gets_no_fix() => NoFixVerifier.VerifyAsync("""
        using System.Threading.Tasks;
        using MySqlConnector;
        using Prelude;

        class C
        {
            private ValueTask<MySqlTransaction> _pending;

            void M(ConnectionFactory factory)
            {
                var conn = [|factory.GetConnection()|];
                conn.Open();
                _pending = conn.BeginTransactionAsync();
            }
        }
        """);

    // The task is what matters, not what it is wrapped in on the way to the field: a ConfigureAwait or a box in
    // 'object' still keeps a task that is working with the connection.
    [Theory]
    [InlineData("ConfiguredValueTaskAwaitable<MySqlTransaction>", "conn.BeginTransactionAsync().ConfigureAwait(false)")]
    [InlineData("object", "(object)conn.BeginTransactionAsync()")]
    public Task Connection_whose_unawaited_task_is_kept_wrapped_in_a_field_gets_no_fix(string fieldType, string value) => NoFixVerifier.VerifyAsync($$"""
        using System.Runtime.CompilerServices;
        using System.Threading.Tasks;
        using MySqlConnector;
        using Prelude;

        class C
        {
            private {{fieldType}} _pending;

            void M(ConnectionFactory factory, bool fail)
            {
                var conn = [|factory.GetConnection()|];
                conn.Open();
                if (fail)
                {
                    return;
                }

                _pending = {{value}};
            }
        }
        """);

    // The parameter an argument fills is found by position around a params array: before it (the connection, then
    // notes) and after its first element (a spare, then the connection).
    [Theory]
    [InlineData("static void Keep(PooledConnection c, params string[] notes) => _kept = c;", "Keep(conn, \"warm\", \"cold\");")]
    [InlineData("static void Keep(string note, params PooledConnection[] all) => _kept = all[all.Length - 1];", "Keep(\"warm\", spare, conn);")]
    public Task Connection_handed_to_a_helper_with_a_params_array_that_keeps_it_gets_no_fix(string helper, string call) => NoFixVerifier.VerifyAsync($$"""
        using Prelude;

        class C
        {
            private static PooledConnection _kept;

            {{helper}}

            int M(Pool pool, PooledConnection spare, bool done)
            {
                var conn = [|pool.GetConnection()|];
                {{call}}
                if (done)
                {
                    return 0;
                }

                return conn.Execute("select 1");
            }
        }
        """);

    [Fact]
    public Task Connection_handed_to_a_helper_that_keeps_it_gets_no_fix() => NoFixVerifier.VerifyAsync("""
        using System.Collections.Generic;
        using Prelude;

        class Registry
        {
            private readonly List<PooledConnection> _all = new();

            public void Track(PooledConnection connection) => _all.Add(connection);
        }

        class C
        {
            void M(Pool pool, Registry registry)
            {
                var conn = [|pool.GetConnection()|];
                registry.Track(conn);
                conn.Execute("select 1");
            }
        }
        """);

    [Fact]
    public Task Connection_handed_to_a_partial_method_whose_implementing_part_keeps_it_gets_no_fix() => NoFixVerifier.VerifyAsync("""
        using System.Collections.Generic;
        using Prelude;

        partial class Registry
        {
            private readonly List<PooledConnection> _all = new();

            public partial void Remember(PooledConnection connection);
        }

        partial class Registry
        {
            public partial void Remember(PooledConnection connection) => _all.Add(connection);
        }

        class C
        {
            void M(Pool pool, Registry registry)
            {
                var conn = [|pool.GetConnection()|];
                registry.Remember(conn);
                conn.Execute("select 1");
            }
        }
        """);

    /// <summary>
    /// A method of a library named as one that keeps what it is given: the fix cannot read it, and releases the connection
    /// on failure before the call only (the analyzer may still report a leak there, for a person to judge).
    /// </summary>
    [Theory]
    [InlineData("sink.Add(conn);")]
    [InlineData("sink.TryAdd(conn);")]
    [InlineData("sink.Insert(0, conn);")]
    [InlineData("sink.Enqueue(conn);")]
    [InlineData("sink.TryEnqueue(conn);")]
    [InlineData("sink.Push(conn);")]
    [InlineData("sink.Set(\"last\", conn);")]
    [InlineData("sink.SetResult(conn);")]
    [InlineData("sink.TrySetResult(conn);")]
    [InlineData("sink.GetOrAdd(\"last\", conn);")]
    [InlineData("sink.AddOrUpdate(\"last\", conn);")]
    [InlineData("sink.TryUpdate(\"last\", conn);")]
    [InlineData("sink.Write(conn);")]
    [InlineData("sink.WriteAsync(conn);")]
    [InlineData("sink.TryWrite(conn);")]
    [InlineData("sink.Post(conn);")]
    [InlineData("sink.SendAsync(conn);")]
    [InlineData("sink.Register(conn);")]
    [InlineData("sink.Subscribe(conn);")]
    [InlineData("sink.Attach(conn);")]
    [InlineData("sink.Track(conn);")]
    [InlineData("sink.Put(conn);")]
    [InlineData("sink.Store(conn);")]
    [InlineData("sink.Cache(conn);")]
    public Task Connection_handed_to_a_library_method_named_as_one_that_keeps_it_is_released_on_failure_before_that_call_only(string call) =>
        NoFixVerifier.VerifyOnlyAsync(HandedOver(call, helper: ""), ["Dispose on failure"]);

    /// <summary>A method that takes a connection, hands it over with <paramref name="call"/>, and uses it again.</summary>
    private static string HandedOver(string call, string helper) => $$"""
        using Prelude;

        class C
        {
            void M(Pool pool, Sink sink)
            {
                var conn = [|pool.GetConnection()|];
                conn.Execute("select 1");
                {{call}}
                conn.Execute("select 2");
            }{{helper}}
        }
        """;

    /// <summary>
    /// Released through a choice between it and another connection, or through an array a declaration makes: the fix
    /// could neither move nor remove that release, and one of its own would give the connection back twice.
    /// </summary>
    [Theory]
    [InlineData("(b ? conn : spare).Release();")]
    [InlineData("(spare ?? conn).Release();")]
    [InlineData("(b switch { true => conn, _ => spare }).Release();")]
    [InlineData("(b ? spare : conn)?.Release();")]
    [InlineData("PooledConnection[] all = { conn };\n        all[0].Release();")]
    [InlineData("PooledConnection[] all = { spare, conn };\n        foreach (var each in all)\n        {\n            each.Release();\n        }\n")]
    public Task Connection_released_through_a_choice_or_an_array_initializer_gets_no_fix(string release) =>
        NoFixVerifier.VerifyAsync("using Prelude;\n\nclass C\n{\n    int M(Pool pool, PooledConnection spare, bool b, bool done)\n    {\n        var conn = [|pool.GetConnection()|];\n        if (done)\n        {\n            return 0;\n        }\n\n        "
            + release + "\n        return 1;\n    }\n}\n");

    /// <summary>
    /// Released through <c>dynamic</c>: the call is bound when it runs, so the fix cannot find it as a release to move or
    /// remove, and one of its own would give the connection back twice.
    /// </summary>
    [Theory]
    [InlineData("Pool", "((dynamic)conn).Release();")]
    [InlineData("Pool", "((dynamic)conn)?.Release();")]
    [InlineData("Pool", "dynamic d = conn;\n        d.Release();")]
    [InlineData("Pool", "object o = conn;\n        ((dynamic)o).Release();")]
    [InlineData("Pool", "var all = new dynamic[] { conn };\n        all[0].Release();")]
    [InlineData("LeasePool", "((dynamic)conn).Dispose();")]
    [InlineData("LeasePool", "using (dynamic d = conn)\n        {\n        }\n")]
    public Task Connection_released_through_dynamic_gets_no_fix(string pool, string release) =>
        NoFixVerifier.VerifyAsync(ReleasedAfterAnEarlyReturn(pool, release));

    /// <summary>A connection of <paramref name="pool"/> given back by <paramref name="release"/> after an early return.</summary>
    private static string ReleasedAfterAnEarlyReturn(string pool, string release) =>
        "using System;\nusing Prelude;\n\nclass C\n{\n    int M(" + pool + " pool, bool done)\n    {\n        var conn = [|pool.GetConnection()|];\n        if (done)\n        {\n            return 0;\n        }\n\n        "
        + release + "\n        return 1;\n    }\n}\n";

    /// <summary>
    /// Released through a name a <c>switch</c> gives it (a pattern of a section or an arm, or the switch expression's
    /// value) or a <c>ref</c> local: the same connection under another name, a release the fix could neither move nor
    /// remove.
    /// </summary>
    [Theory]
    [InlineData("LeasePool", "switch (conn)\n        {\n            case IDisposable d:\n                d.Dispose();\n                break;\n        }\n")]
    [InlineData("Pool", "switch (conn)\n        {\n            case { } p when p.Execute(\"select 2\") > 0:\n                p.Release();\n                break;\n        }\n")]
    [InlineData("Pool", "var same = conn switch { PooledConnection p => p, _ => null };\n        same?.Release();")]
    [InlineData("Pool", "(conn switch { PooledConnection p => p, _ => null })?.Release();")]
    [InlineData("Pool", "ref var r = ref conn;\n        r.Release();")]
    [InlineData("Pool", "ref readonly var r = ref conn;\n        r.Release();")]
    public Task Connection_released_through_a_name_a_switch_or_a_ref_local_gives_it_gets_no_fix(string pool, string release) =>
        NoFixVerifier.VerifyAsync(ReleasedAfterAnEarlyReturn(pool, release));

    /// <summary>The same library methods called by a helper of the code that is given the connection: the helper keeps it too.</summary>
    [Theory]
    [InlineData("sink.Add(c)")]
    [InlineData("sink.SetResult(c)")]
    [InlineData("sink.Set(\"last\", c)")]
    [InlineData("sink.Write(c)")]
    public Task Connection_handed_to_a_helper_that_gives_it_to_a_method_named_as_one_that_keeps_it_is_released_on_failure_before_that_call_only(string call) =>
        NoFixVerifier.VerifyOnlyAsync(HandedOver("Keep(sink, conn);", "\n\n    static void Keep(Sink sink, PooledConnection c) => " + call + ";"), ["Dispose on failure"]);

    /// <summary>Helpers that keep the connection they are given, always or on some paths (with the C# usings they need).</summary>
    private const string Registries = """
        using Prelude;

        class Registry : System.IDisposable
        {
            private PooledConnection _last;

            public PooledConnection Last
            {
                get => _last;
                set
                {
                    _last?.Release();
                    _last = value;
                }
            }

            private Wrapper _wrapped;

            public Wrapper Wrapped
            {
                get => _wrapped;
                set
                {
                    _wrapped?.Inner.Release();
                    _wrapped = value;
                }
            }

            public void Remember(PooledConnection connection) => Last = connection;

            public static void RememberIn(Registry registry, PooledConnection connection) => registry.Last = connection;

            public void RememberWrapped(PooledConnection connection, bool wrap) => Wrapped = wrap ? new Wrapper(connection) : null;

            public void RememberWrappedAlways(PooledConnection connection) => Wrapped = new Wrapper(connection);

            public void RememberChosen(PooledConnection connection, bool keep) => Last = keep ? connection : null;

            public void RememberChecked(PooledConnection connection)
            {
                var held = connection ?? throw new System.ArgumentNullException(nameof(connection));
                Last = held;
            }

            private System.Collections.Generic.List<PooledConnection> _all = [];

            public System.Collections.Generic.List<PooledConnection> All
            {
                get => _all;
                set
                {
                    _all.ForEach(c => c.Release());
                    _all = value;
                }
            }

            private (PooledConnection Connection, string Note) _noted;

            public (PooledConnection Connection, string Note) Noted
            {
                get => _noted;
                set
                {
                    _noted.Connection?.Release();
                    _noted = value;
                }
            }

            public void RememberAll(PooledConnection connection) => All = [connection];

            public void RememberNoted(PooledConnection connection) => Noted = (connection, "last");

            private readonly PooledConnection[] _slots = new PooledConnection[1];

            public void RememberInSlot(PooledConnection connection)
            {
                _slots[0]?.Release();
                ref var slot = ref _slots[0];
                slot = connection;
            }

            public void RememberLater(PooledConnection connection)
            {
                PooledConnection held;
                held = connection;
                Last = held;
            }

            public void RememberIf(PooledConnection connection, bool keep)
            {
                if (keep)
                {
                    Last = connection;
                }
            }

            public void Dispose()
            {
                _last?.Release();
                _wrapped?.Inner.Release();
                All = [];
                Noted = default;
                _slots[0]?.Release();
            }
        }

        sealed class Wrapper
        {
            public Wrapper(PooledConnection inner) => Inner = inner;

            public PooledConnection Inner { get; }
        }

        static class RegistryExtensions
        {
            // The connection is the third parameter: called as 'registry.RememberAs("last", conn)', the second argument.
            public static void RememberAs(this Registry registry, string key, PooledConnection connection)
            {
                System.Console.WriteLine(key);
                registry.Last = connection;
            }
        }

        """;

    [Theory]
    [InlineData("registry.Remember(conn);")]
    [InlineData("registry.RememberAs(\"last\", conn);")]
    [InlineData("registry.RememberAs(connection: conn, key: \"last\");")]
    [InlineData("RegistryExtensions.RememberAs(registry, \"last\", conn);")]
    [InlineData("Registry.RememberIn(registry, conn);")]
    [InlineData("registry.RememberWrappedAlways(conn);")]
    [InlineData("registry.RememberChecked(conn);")]
    [InlineData("registry.RememberLater(conn);")]
    [InlineData("registry.RememberInSlot(conn);")]
    [InlineData("registry.RememberAll(conn);")]
    [InlineData("registry.RememberNoted(conn);")]
    public Task Connection_handed_to_a_helper_whose_body_keeps_it_is_released_on_failure_before_that_call(string keep) => Verify.VerifyCodeFixAsync(Registries + $$"""
        class C
        {
            void M(Pool pool, Registry registry)
            {
                var conn = [|pool.GetConnection()|];
                conn.Execute("select 1");
                {{keep}}
                conn.Execute("select 2");
            }
        }
        """, Registries + $$"""
        class C
        {
            void M(Pool pool, Registry registry)
            {
                var conn = pool.GetConnection();
                try
                {
                    conn.Execute("select 1");
                }
                catch
                {
                    conn.Release();
                    throw;
                }

                {{keep}}
                conn.Execute("select 2");
            }
        }
        """);

    /// <summary>
    /// A helper that keeps the connection on some paths only: the analyzer does not count it as a hand-off (the
    /// connection may stay with the caller), and the fix must not release it after the call either (it may be kept).
    /// </summary>
    [Theory]
    [InlineData("registry.RememberWrapped(conn, wrap: true);")]
    [InlineData("registry.RememberChosen(conn, keep: true);")]
    [InlineData("registry.RememberIf(conn, keep: true);")]
    public Task Connection_handed_to_a_helper_that_may_keep_it_is_released_on_failure_before_that_call_only(string keep) =>
        NoFixVerifier.VerifyOnlyAsync(Registries + $$"""
        class C
        {
            void M(Pool pool, Registry registry)
            {
                var conn = [|pool.GetConnection()|];
                conn.Execute("select 1");
                {{keep}}
                conn.Execute("select 2");
            }
        }
        """, ["Dispose on failure"]);

    [Fact]
    public Task Connection_handed_to_an_out_parameter_by_a_call_is_released_on_failure_before_that_call() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            bool TryOpen(Pool pool, out PooledConnection connection)
            {
                var conn = [|pool.GetConnection()|];
                conn.Execute("select 1");
                Keep(conn, out connection);
                return true;
            }

            static void Keep(PooledConnection value, out PooledConnection target) => target = value;
        }
        """, """
        using Prelude;

        class C
        {
            bool TryOpen(Pool pool, out PooledConnection connection)
            {
                var conn = pool.GetConnection();
                try
                {
                    conn.Execute("select 1");
                }
                catch
                {
                    conn.Release();
                    throw;
                }

                Keep(conn, out connection);
                return true;
            }

            static void Keep(PooledConnection value, out PooledConnection target) => target = value;
        }
        """);

    // ---------------------------------------------------------------- captured

    [Fact]
    public Task Connection_released_by_a_returned_callback_is_released_on_failure_before_the_return() => Verify.VerifyCodeFixAsync("""
        using System;
        using Prelude;

        class C
        {
            Func<int> M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                conn.Execute("set names utf8mb4");
                return () =>
                {
                    var rows = conn.Execute("select 1");
                    conn.Release();
                    return rows;
                };
            }
        }
        """, """
        using System;
        using Prelude;

        class C
        {
            Func<int> M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                try
                {
                    conn.Execute("set names utf8mb4");
                    return () =>
                    {
                        var rows = conn.Execute("select 1");
                        conn.Release();
                        return rows;
                    };
                }
                catch
                {
                    conn.Release();
                    throw;
                }
            }
        }
        """);

    [Fact]
    public Task Connection_captured_by_a_returned_callback_that_does_not_release_it_gets_no_fix() => NoFixVerifier.VerifyAsync("""
        using System;
        using Prelude;

        class C
        {
            Func<int> M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                conn.Execute("set names utf8mb4");
                return () => conn.Execute("select 1");
            }
        }
        """);

    [Fact]
    public Task Connection_used_by_a_task_that_is_not_awaited_gets_no_fix() => NoFixVerifier.VerifyAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            Task M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                var work = Task.Run(() => conn.Execute("select 1"));
                conn.Execute("select 2");
                return work;
            }
        }
        """);

    [Theory]
    [InlineData("return conn.ExecuteAsync(\"select 1\");")]
    [InlineData("var pending = conn.ExecuteAsync(\"select 1\"); Log.Info(\"started\"); return pending;")]
    public Task Connection_whose_unawaited_query_is_returned_gets_no_fix(string tail) => NoFixVerifier.VerifyAsync($$"""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            Task<int> M(Pool pool, bool skip)
            {
                var conn = [|pool.GetConnection()|];
                if (skip)
                {
                    return Task.FromResult(0);
                }

                {{tail}}
            }
        }
        """);

    [Theory]
    [InlineData("IAsyncEnumerator<int>", "async", "await connection.ExecuteAsync(\"select 1\")")]
    [InlineData("IAsyncEnumerable<int>", "async", "await connection.ExecuteAsync(\"select 1\")")]
    [InlineData("IEnumerator<int>", "", "connection.Execute(\"select 1\")")]
    public Task Connection_read_by_a_returned_iterator_gets_no_fix(string type, string async, string read) => NoFixVerifier.VerifyAsync($$"""
        using System.Collections.Generic;
        using Prelude;

        class C
        {
            {{type}} M(Pool pool, bool skip)
            {
                var conn = [|pool.GetConnection()|];
                if (skip)
                {
                    return null;
                }

                var rows = Rows(conn);
                return rows;
            }

            // Disposable only through IAsyncDisposable or IDisposable: the rows are read, with the connection, after M
            // has returned.
            static {{async}} {{type}} Rows(PooledConnection connection)
            {
                yield return {{read}};
            }
        }
        """);

    [Fact]
    public Task Connection_captured_by_a_lambda_a_returned_Lazy_runs_later_gets_no_fix() => NoFixVerifier.VerifyAsync("""
        using System;
        using Prelude;

        class C
        {
            Lazy<int> M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                var later = Defer(() => conn.Execute("select 1"));
                return later;
            }

            static Lazy<int> Defer(Func<int> read) => new Lazy<int>(read);
        }
        """);

    [Theory]
    [InlineData("ThreadPool.QueueUserWorkItem(_ => conn.Execute(\"select 1\"));")]
    [InlineData("ThreadPool.UnsafeQueueUserWorkItem(_ => conn.Execute(\"select 1\"), null);")]
    [InlineData("Jobs.Schedule(() => conn.Execute(\"select 1\"));")]
    [InlineData("Jobs.Subscribe(() => conn.Execute(\"select 1\"));")]
    [InlineData("Jobs.Register(() => conn.Execute(\"select 1\"));")]
    [InlineData("cancellation.Register(() => conn.Execute(\"select 1\"));")]
    public Task Connection_used_by_a_queued_work_item_gets_no_fix(string queue) => NoFixVerifier.VerifyAsync($$"""
        using System;
        using System.Collections.Generic;
        using System.Threading;
        using Prelude;

        class C
        {
            void M(Pool pool, CancellationToken cancellation)
            {
                var conn = [|pool.GetConnection()|];
                {{queue}}
                conn.Execute("select 2");
            }
        }

        static class Jobs
        {
            private static readonly List<Action> Pending = new();

            public static void Schedule(Action work) => Pending.Add(work);

            public static void Subscribe(Action work) => Pending.Add(work);

            public static void Register(Action work) => Pending.Add(work);
        }
        """);

    [Fact]
    public Task Connection_captured_by_a_lazy_query_gets_no_fix() => NoFixVerifier.VerifyAsync("""
        using System.Collections.Generic;
        using System.Linq;
        using Prelude;

        class C
        {
            IEnumerable<int> M(Pool pool, int[] ids)
            {
                var conn = [|pool.GetConnection()|];
                conn.Execute("set names utf8mb4");
                var rows = ids.Select(id => conn.Execute("select " + id));
                return rows;
            }
        }
        """);

    /// <summary>
    /// A sequence made from the connection and returned, typed as an interface that extends <c>IEnumerable</c> (not
    /// named so): it may read through the connection when the caller enumerates it.
    /// </summary>
    [Fact]
    public Task Connection_read_by_a_returned_sequence_of_an_interface_extending_IEnumerable_gets_no_fix() => NoFixVerifier.VerifyAsync("""
        using System.Collections.Generic;
        using Prelude;

        interface IRows : IEnumerable<int>
        {
        }

        static class Reading
        {
            public static IRows Rows(this PooledConnection connection, string sql) => throw new System.NotSupportedException(sql);
        }

        class C
        {
            IRows M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                conn.Execute("set names utf8mb4");
                var rows = conn.Rows("select id from items");
                return rows;
            }
        }
        """);

    /// <summary>A lambda given to a call that runs it before returning (not a task, not a deferred query): released after that call.</summary>
    [Theory]
    [InlineData("ids.ForEach(id => conn.Execute(\"select \" + id));", "return ids.Count;")]
    [InlineData("var total = ids.Sum(id => conn.Execute(\"select \" + id));\nreturn total;")]
    [InlineData("return ids.Sum(id => conn.Execute(\"select \" + id));")]
    [InlineData("return System.Math.Max(0, ids.Sum(id => conn.Execute(\"select \" + id)));")]
    [InlineData("return 1 + ids.Sum(id => conn.Execute(\"select \" + id));")]
    [InlineData("var rows = ids.Select(id => conn.Execute(\"select \" + id)).ToList();\nreturn rows.Count;")]
    [InlineData("return ids.Select(id => conn.Execute(\"select \" + id)).Where(n => n > 0).Count();")]
    public Task Connection_used_by_a_lambda_that_a_call_runs_at_once_is_released_in_finally(string body, string? after = null)
    {
        static string Source(string lines) =>
            "using System.Collections.Generic;\nusing System.Linq;\nusing Prelude;\n\nclass C\n{\n    int M(Pool pool, List<int> ids)\n    {\n" + lines + "    }\n}\n";
        static string Indent(string lines, int by) => string.Concat(lines.Split('\n').Select(line => new string(' ', by) + line + "\n"));

        return Verify.VerifyCodeFixAsync(
            Source("        var conn = [|pool.GetConnection()|];\n" + Indent(body, 8) + (after is null ? "" : Indent(after, 8))),
            Source("        var conn = pool.GetConnection();\n        try\n        {\n" + Indent(body, 12) + "        }\n        finally\n        {\n            conn.Release();\n        }\n"
                   + (after is null ? "" : "\n" + Indent(after, 8))));
    }

    [Fact]
    public Task Connection_used_by_an_awaited_Task_Run_is_released_in_finally() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                var rows = await Task.Run(() => conn.Execute("select 1"));
                return rows;
            }
        }
        """, """
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    var rows = await Task.Run(() => conn.Execute("select 1"));
                    return rows;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """);

    /// <summary>A helper's result that is a list or an array of values read with the connection does not keep it.</summary>
    [Theory]
    [InlineData("List<int>", "new List<int> { c.Execute(\"select 1\") }")]
    [InlineData("int[]", "new[] { c.Execute(\"select 1\") }")]
    public Task Connection_whose_helper_returns_values_read_with_it_is_released_in_finally(string type, string values) => Verify.VerifyCodeFixAsync($$"""
        using System.Collections.Generic;
        using Prelude;

        class C
        {
            static {{type}} Ids(PooledConnection c) => {{values}};

            {{type}} M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                var ids = Ids(conn);
                return ids;
            }
        }
        """, $$"""
        using System.Collections.Generic;
        using Prelude;

        class C
        {
            static {{type}} Ids(PooledConnection c) => {{values}};

            {{type}} M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    var ids = Ids(conn);
                    return ids;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """);

    [Fact]
    public Task Connection_used_through_a_null_conditional_access_is_released_in_finally() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                var rows = conn?.Execute("select 1") ?? 0;
                return rows;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    var rows = conn?.Execute("select 1") ?? 0;
                    return rows;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """);

    [Fact]
    public Task Connection_used_by_an_awaited_parallel_loop_is_released_in_finally() => Verify.VerifyCodeFixAsync("""
        using System.Collections.Generic;
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task M(LeasePool pool, IEnumerable<string> tenants)
            {
                var lease = [|pool.GetConnection()|];
                // One connection serves one command at a time.
                await Parallel.ForEachAsync(tenants, new ParallelOptions { MaxDegreeOfParallelism = 1 }, async (tenant, ct) => await lease.ExecuteAsync("select 1"));
                lease.Dispose();
            }
        }
        """, """
        using System.Collections.Generic;
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task M(LeasePool pool, IEnumerable<string> tenants)
            {
                await using var lease = pool.GetConnection();
                // One connection serves one command at a time.
                await Parallel.ForEachAsync(tenants, new ParallelOptions { MaxDegreeOfParallelism = 1 }, async (tenant, ct) => await lease.ExecuteAsync("select 1"));
            }
        }
        """);

    [Fact]
    public Task Connection_used_by_a_local_function_called_later_stays_open_until_that_call() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                conn.Execute("set names utf8mb4");
                Log.Info("prepared");
                var rows = Count();
                conn.Release();
                return rows;

                int Count() => conn.Execute("select count(*) from sessions");
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    conn.Execute("set names utf8mb4");
                    Log.Info("prepared");
                    var rows = Count();
                    return rows;
                }
                finally
                {
                    conn.Release();
                }

                int Count() => conn.Execute("select count(*) from sessions");
            }
        }
        """);

    [Fact]
    public Task Connection_returned_through_a_pattern_variable_gets_no_fix() => NoFixVerifier.VerifyAsync("""
        using Prelude;

        class C
        {
            ConnectionLease M(LeasePool pool)
            {
                if ([|pool.GetConnection()|] is { } lease && lease.Execute("select 1") > 0)
                {
                    return lease;
                }

                return null;
            }
        }
        """);

    [Theory]
    [InlineData("held.Release();")]
    [InlineData("held?.Release();")]
    public Task Connection_released_through_a_pattern_variable_gets_no_fix(string release) => NoFixVerifier.VerifyAsync($$"""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                if (conn is { } held)
                {
                    var rows = held.Execute("delete from sessions");
                    {{release}}
                    return rows;
                }

                conn.Release();
                return 0;
            }
        }
        """);

    [Fact]
    public Task Connection_put_in_a_returned_tuple_is_released_on_failure_only() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            (ConnectionLease Lease, int Rows) M(LeasePool pool)
            {
                var lease = [|pool.GetConnection()|];
                var rows = lease.Execute("select 1");
                return (lease, rows);
            }
        }
        """, """
        using Prelude;

        class C
        {
            (ConnectionLease Lease, int Rows) M(LeasePool pool)
            {
                var lease = pool.GetConnection();
                try
                {
                    var rows = lease.Execute("select 1");
                    return (lease, rows);
                }
                catch
                {
                    lease.Dispose();
                    throw;
                }
            }
        }
        """);

    // ---------------------------------------------------------------- handed to an object that owns it

    [Fact]
    public Task Connection_handed_to_a_returned_lock_is_released_on_failure_only() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        sealed class DistributedLock
        {
            private readonly PooledConnection _conn;

            public DistributedLock(PooledConnection conn)
            {
                _conn = conn;
                _conn.Execute("select get_lock('jobs', 1)");
            }

            public void Release()
            {
                _conn.Execute("select release_lock('jobs')");
                _conn.Release();
            }
        }

        class C
        {
            DistributedLock Acquire(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                conn.Execute("set names utf8mb4");
                return new DistributedLock(conn);
            }
        }
        """, """
        using Prelude;

        sealed class DistributedLock
        {
            private readonly PooledConnection _conn;

            public DistributedLock(PooledConnection conn)
            {
                _conn = conn;
                _conn.Execute("select get_lock('jobs', 1)");
            }

            public void Release()
            {
                _conn.Execute("select release_lock('jobs')");
                _conn.Release();
            }
        }

        class C
        {
            DistributedLock Acquire(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    conn.Execute("set names utf8mb4");
                    return new DistributedLock(conn);
                }
                catch
                {
                    conn.Release();
                    throw;
                }
            }
        }
        """);

    // A result that owns the connection, the command and the reader it is given (TShock's QueryResult).
    private const string QueryResultType = """
        using System;
        using System.Data;
        using MySqlConnector;

        sealed class QueryResult : IDisposable
        {
            private readonly IDbConnection _connection;
            private readonly IDbCommand _command;

            public QueryResult(IDbConnection connection, IDataReader reader, IDbCommand command)
            {
                _connection = connection;
                Reader = reader;
                _command = command;
            }

            public IDataReader Reader { get; }

            public void Dispose()
            {
                Reader.Dispose();
                _command.Dispose();
                _connection.Dispose();
            }
        }

        """;

    [Fact]
    public Task Connection_returned_with_its_command_and_reader_in_one_owner_is_disposed_on_failure_only() => Verify.VerifyCodeFixAsync(QueryResultType + """
        static class DbExt
        {
            public static QueryResult QueryReader(this MySqlConnection template, string query)
            {
                var db = template.Clone();
                [|db.Open()|];
                var com = db.CreateCommand(); // disposed by the QueryResult
                com.CommandText = query;
                return new QueryResult(db, com.ExecuteReader(), com);
            }
        }
        """, QueryResultType + """
        static class DbExt
        {
            public static QueryResult QueryReader(this MySqlConnection template, string query)
            {
                var db = template.Clone();
                try
                {
                    db.Open();
                    var com = db.CreateCommand(); // disposed by the QueryResult
                    com.CommandText = query;
                    return new QueryResult(db, com.ExecuteReader(), com);
                }
                catch
                {
                    db.Dispose();
                    throw;
                }
            }
        }
        """);

    [Fact]
    public Task Connection_returned_with_its_reader_from_a_try_whose_catch_wraps_the_error_is_disposed_on_failure_only() => Verify.VerifyCodeFixAsync(QueryResultType + """
        static class DbExt
        {
            public static QueryResult QueryReader(this MySqlConnection template, string query)
            {
                var db = template.Clone();
                try
                {
                    [|db.Open()|];
                    var com = db.CreateCommand();
                    com.CommandText = query;
                    return new QueryResult(db, com.ExecuteReader(), com);
                }
                catch (Exception ex)
                {
                    throw new InvalidOperationException("The query failed.", ex);
                }
            }
        }
        """, QueryResultType + """
        static class DbExt
        {
            public static QueryResult QueryReader(this MySqlConnection template, string query)
            {
                var db = template.Clone();
                try
                {
                    try
                    {
                        db.Open();
                        var com = db.CreateCommand();
                        com.CommandText = query;
                        return new QueryResult(db, com.ExecuteReader(), com);
                    }
                    catch
                    {
                        db.Dispose();
                        throw;
                    }
                }
                catch (Exception ex)
                {
                    throw new InvalidOperationException("The query failed.", ex);
                }
            }
        }
        """);

    [Theory]
    [InlineData("using (lease)\n        {\n            return lease.Execute(\"select 1\");\n        }")]
    [InlineData("using var held = lease;\n        return held.Execute(\"select 1\");")]
    public Task Connection_a_branch_prepares_before_a_using_takes_it_is_disposed_on_failure_up_to_the_using(string taken) => Verify.VerifyCodeFixAsync($$"""
        using Prelude;

        class C
        {
            int M(LeasePool pool, bool prepare)
            {
                var lease = [|pool.GetConnection()|];
                if (prepare)
                {
                    lease.Execute("set names utf8mb4");
                }

                {{taken}}
            }
        }
        """, $$"""
        using Prelude;

        class C
        {
            int M(LeasePool pool, bool prepare)
            {
                var lease = pool.GetConnection();
                try
                {
                    if (prepare)
                    {
                        lease.Execute("set names utf8mb4");
                    }
                }
                catch
                {
                    lease.Dispose();
                    throw;
                }

                {{taken}}
            }
        }
        """);

    [Fact]
    public Task Connection_opened_in_a_branch_and_used_by_a_later_using_is_disposed_on_failure_up_to_the_using() => Verify.VerifyCodeFixAsync("""
        using System;
        using System.Data;
        using MySqlConnector;

        class C
        {
            int M(string connectionString, bool warm)
            {
                var conn = new MySqlConnection(connectionString);
                if (warm)
                {
                    [|conn.Open()|];
                    using var setup = new MySqlCommand("set @warm = 1", conn);
                    setup.ExecuteNonQuery();
                }

                using (conn)
                {
                    if (conn.State != ConnectionState.Open)
                    {
                        conn.Open();
                    }

                    using var command = new MySqlCommand("select count(*) from customers", conn);
                    return Convert.ToInt32(command.ExecuteScalar());
                }
            }
        }
        """, """
        using System;
        using System.Data;
        using MySqlConnector;

        class C
        {
            int M(string connectionString, bool warm)
            {
                var conn = new MySqlConnection(connectionString);
                try
                {
                    if (warm)
                    {
                        conn.Open();
                        using var setup = new MySqlCommand("set @warm = 1", conn);
                        setup.ExecuteNonQuery();
                    }
                }
                catch
                {
                    conn.Dispose();
                    throw;
                }

                using (conn)
                {
                    if (conn.State != ConnectionState.Open)
                    {
                        conn.Open();
                    }

                    using var command = new MySqlCommand("select count(*) from customers", conn);
                    return Convert.ToInt32(command.ExecuteScalar());
                }
            }
        }
        """);

    // ---------------------------------------------------------------- pools are not connections

    [Fact]
    public Task Shared_data_source_returned_by_a_GetConnection_method_gets_no_fix() => NoFixVerifier.VerifyAsync("""
        using System;
        using MySqlConnector;

        sealed class Tenants
        {
            private readonly MySqlDataSource _shared;

            public Tenants(MySqlDataSource shared) => _shared = shared;

            public MySqlDataSource GetConnection() => _shared;
        }

        class C
        {
            int M(Tenants tenants)
            {
                var pool = [|tenants.GetConnection()|];
                using var conn = pool.OpenConnection();
                using var command = new MySqlCommand("select count(*) from customers", conn);
                return Convert.ToInt32(command.ExecuteScalar());
            }
        }
        """);

    [Fact]
    public Task Pool_type_returned_by_a_GetConnection_method_gets_no_fix() => NoFixVerifier.VerifyAsync("""
        using System;
        using Prelude;

        sealed class TenantPool : IDisposable
        {
            public PooledConnection GetConnection() => new Pool().GetConnection();

            public void Dispose() { }
        }

        sealed class Pools
        {
            private readonly TenantPool _pool = new();

            public TenantPool GetConnection() => _pool;
        }

        class C
        {
            int M(Pools pools)
            {
                var pool = [|pools.GetConnection()|];
                var conn = pool.GetConnection();
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
        """);

    [ExtensionBlocksFact]
    public Task Connection_released_by_an_extension_block_member_of_the_code_gets_no_fix() => NoFixVerifier.VerifyAsync("""
        using System;
        using Prelude;

        static class LeaseExtensions
        {
            extension(PooledConnection connection)
            {
                public void ReleaseQuietly()
                {
                    try
                    {
                        connection.Release();
                    }
                    catch (Exception)
                    {
                    }
                }
            }
        }

        class C
        {
            int Run(Pool pool, bool flag)
            {
                var conn = [|pool.GetConnection()|];
                if (flag)
                {
                    return 0;
                }

                conn.ReleaseQuietly();
                return 1;
            }
        }
        """, Microsoft.CodeAnalysis.CSharp.LanguageVersion.Preview);

    private const string IteratorRows = """
        using System.Collections.Generic;
        using MySqlConnector;

        sealed class InvoiceRows
        {
            private readonly MySqlDataSource _dataSource;

            public InvoiceRows(MySqlDataSource dataSource) => _dataSource = dataSource;

            public IEnumerable<long> Ids()
            {
                using var connection = _dataSource.OpenConnection();
                yield return connection.ServerThread;
            }

            public IEnumerable<long> Recent
            {
                get
                {
                    using var connection = _dataSource.OpenConnection();
                    yield return connection.ServerThread;
                }
            }

            public IEnumerable<long> this[int year]
            {
                get
                {
                    using var connection = _dataSource.OpenConnection();
                    yield return connection.ServerThread + year;
                }
            }
        }

        """;

    [Theory]
    [InlineData("rows.Ids()")]
    [InlineData("rows.Recent")]
    [InlineData("rows[2026]")]
    public Task Enumerator_taken_by_hand_from_an_iterator_that_holds_a_connection_gets_a_using(string iterator) => Verify.VerifyCodeFixAsync(IteratorRows + $$"""
        class C
        {
            long First(InvoiceRows rows)
            {
                var e = [|{{iterator}}.GetEnumerator()|];
                return e.MoveNext() ? e.Current : 0;
            }
        }
        """, IteratorRows + $$"""
        class C
        {
            long First(InvoiceRows rows)
            {
                using var e = {{iterator}}.GetEnumerator();
                return e.MoveNext() ? e.Current : 0;
            }
        }
        """);
}
