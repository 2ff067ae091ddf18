using TenantDbGuard.Analyzers.Tests.FixExecution;
using TenantDbGuard.Analyzers.Tests.Verifiers;
using Verify = TenantDbGuard.Analyzers.Tests.Verifiers.CSharpCodeFixVerifier<
    TenantDbGuard.Analyzers.ConnectionLeakAnalyzer,
    TenantDbGuard.CodeFixes.ConnectionLeakCodeFixProvider>;

namespace TenantDbGuard.Analyzers.Tests;

/// <summary>
/// Which release a fix writes: the names configured in <c>tenantdbguard.release_methods</c> and their order, the
/// methods a type offers (public, parameterless, its own or through an interface or an extension), and the releases
/// the code already makes that a fix keeps as they are written.
/// </summary>
[Collection(FixExecutionCollection.Name)]
public sealed class ConnectionLeakCodeFixReleaseTests
{
    private const string ReleaseInFinally = "TDG001.ReleaseInFinally";

    // ---------------------------------------------------------------- configured names

    [Fact]
    public Task A_configured_built_in_name_does_not_take_the_place_of_DisposeAsync_in_async_code() => Verify.VerifyCodeFixWithEditorConfigAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(LeasePool pool)
            {
                var lease = [|pool.GetConnection()|];
                return await lease.ExecuteAsync("delete from sessions");
            }
        }
        """, """
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(LeasePool pool)
            {
                var lease = pool.GetConnection();
                try
                {
                    return await lease.ExecuteAsync("delete from sessions");
                }
                finally
                {
                    await lease.DisposeAsync();
                }
            }
        }
        """, "tenantdbguard.release_methods = Dispose\n", ReleaseInFinally);

    [Fact]
    public Task Of_two_configured_release_methods_the_first_by_name_is_written() => Verify.VerifyCodeFixWithEditorConfigAsync("""
        using Prelude;

        sealed class LegacyConnection
        {
            private readonly PooledConnection _inner = new Pool().GetConnection();

            public int Execute(string sql) => _inner.Execute(sql);
            public void Return() => _inner.Release();
            public void GiveBack() => _inner.Release();
        }

        sealed class LegacyPool
        {
            public LegacyConnection Rent(string tenant) => new LegacyConnection();
        }

        class C
        {
            int M(LegacyPool pool)
            {
                var conn = [|pool.Rent("tenant-1")|];
                return conn.Execute("delete from queue where done = 1");
            }
        }
        """, """
        using Prelude;

        sealed class LegacyConnection
        {
            private readonly PooledConnection _inner = new Pool().GetConnection();

            public int Execute(string sql) => _inner.Execute(sql);
            public void Return() => _inner.Release();
            public void GiveBack() => _inner.Release();
        }

        sealed class LegacyPool
        {
            public LegacyConnection Rent(string tenant) => new LegacyConnection();
        }

        class C
        {
            int M(LegacyPool pool)
            {
                var conn = pool.Rent("tenant-1");
                try
                {
                    return conn.Execute("delete from queue where done = 1");
                }
                finally
                {
                    conn.GiveBack();
                }
            }
        }
        """, "tenantdbguard.acquire_methods = LegacyPool.Rent\ntenantdbguard.release_methods = LegacyConnection.Return, GiveBack\n", ReleaseInFinally);

    // ---------------------------------------------------------------- what the type offers

    // 'handle.Dispose()' does not compile where Dispose is implemented explicitly: the release goes through the interface.
    [Fact]
    public Task A_type_that_implements_Dispose_explicitly_is_disposed_through_the_interface() => Verify.VerifyCodeFixWithEditorConfigAsync("""
        using System;
        using Prelude;

        sealed class Handle : IDisposable
        {
            private readonly PooledConnection _connection = new Pool().GetConnection();

            public int Work() => _connection.Execute("select 1");
            void IDisposable.Dispose() => _connection.Release();
        }

        sealed class Renter
        {
            public Handle Rent() => new Handle();
        }

        class C
        {
            int M(Renter renter)
            {
                var handle = [|renter.Rent()|];
                return handle.Work();
            }
        }
        """, """
        using System;
        using Prelude;

        sealed class Handle : IDisposable
        {
            private readonly PooledConnection _connection = new Pool().GetConnection();

            public int Work() => _connection.Execute("select 1");
            void IDisposable.Dispose() => _connection.Release();
        }

        sealed class Renter
        {
            public Handle Rent() => new Handle();
        }

        class C
        {
            int M(Renter renter)
            {
                var handle = renter.Rent();
                try
                {
                    return handle.Work();
                }
                finally
                {
                    ((IDisposable)handle).Dispose();
                }
            }
        }
        """, "tenantdbguard.acquire_methods = Rent\n", ReleaseInFinally);

    // The same in async code: 'await handle.DisposeAsync()' does not compile where DisposeAsync is implemented explicitly.
    [Fact]
    public Task A_type_that_implements_DisposeAsync_explicitly_is_disposed_through_the_interface() => Verify.VerifyCodeFixWithEditorConfigAsync(AsyncHandle + """
        class C
        {
            async Task<int> M(Renter renter)
            {
                var handle = [|renter.Rent()|];
                return await handle.WorkAsync();
            }
        }
        """, AsyncHandle + """
        class C
        {
            async Task<int> M(Renter renter)
            {
                var handle = renter.Rent();
                try
                {
                    return await handle.WorkAsync();
                }
                finally
                {
                    await ((IAsyncDisposable)handle).DisposeAsync();
                }
            }
        }
        """, "tenantdbguard.acquire_methods = Rent\n", ReleaseInFinally);

    private const string AsyncHandle = """
        using System;
        using System.Threading.Tasks;
        using Prelude;

        sealed class Handle : IAsyncDisposable
        {
            private readonly PooledConnection _connection = new Pool().GetConnection();

            public Task<int> WorkAsync() => _connection.ExecuteAsync("select 1");
            ValueTask IAsyncDisposable.DisposeAsync()
            {
                _connection.Release();
                return default;
            }
        }

        sealed class Renter
        {
            public Handle Rent() => new Handle();
        }


        """;

    // A connection typed as an interface offers the methods of the interfaces it extends. (Called for work, an interface
    // method of the code may keep or release the connection itself: the fix is offered where the code makes no such call.)
    [Fact]
    public Task A_release_method_of_a_base_interface_is_called_on_a_connection_typed_as_the_derived_interface() => Verify.VerifyCodeFixWithEditorConfigAsync("""
        using Prelude;

        interface IReleasable
        {
            void Release();
        }

        interface ITenantConnection : IReleasable
        {
            int Execute(string sql);
        }

        sealed class TenantConnection : ITenantConnection
        {
            private readonly PooledConnection _inner = new Pool().GetConnection();

            public int Execute(string sql) => _inner.Execute(sql);
            public void Release() => _inner.Release();
        }

        sealed class TenantPool
        {
            public ITenantConnection Rent(string tenant) => new TenantConnection();
        }

        class C
        {
            int M(TenantPool pool)
            {
                var conn = [|pool.Rent("tenant-1")|];
                Log.Info("rented");
                return 1;
            }
        }
        """, """
        using Prelude;

        interface IReleasable
        {
            void Release();
        }

        interface ITenantConnection : IReleasable
        {
            int Execute(string sql);
        }

        sealed class TenantConnection : ITenantConnection
        {
            private readonly PooledConnection _inner = new Pool().GetConnection();

            public int Execute(string sql) => _inner.Execute(sql);
            public void Release() => _inner.Release();
        }

        sealed class TenantPool
        {
            public ITenantConnection Rent(string tenant) => new TenantConnection();
        }

        class C
        {
            int M(TenantPool pool)
            {
                var conn = pool.Rent("tenant-1");
                conn.Release();
                Log.Info("rented");
                return 1;
            }
        }
        """, "tenantdbguard.acquire_methods = TenantPool.Rent\n", ReleaseInFinally);

    // An interface's method implemented explicitly is not callable on the class: the public Dispose is written instead.
    [Fact]
    public Task A_release_method_implemented_explicitly_is_not_called_on_the_class() => Verify.VerifyCodeFixWithEditorConfigAsync("""
        using System;
        using Prelude;

        interface IReleasable
        {
            void Release();
        }

        sealed class Handle : IReleasable, IDisposable
        {
            private readonly PooledConnection _connection = new Pool().GetConnection();

            public int Work() => _connection.Execute("select 1");
            void IReleasable.Release() => _connection.Release();
            public void Dispose() => _connection.Release();
        }

        sealed class Renter
        {
            public Handle Rent() => new Handle();
        }

        class C
        {
            int M(Renter renter)
            {
                var handle = [|renter.Rent()|];
                return handle.Work();
            }
        }
        """, """
        using System;
        using Prelude;

        interface IReleasable
        {
            void Release();
        }

        sealed class Handle : IReleasable, IDisposable
        {
            private readonly PooledConnection _connection = new Pool().GetConnection();

            public int Work() => _connection.Execute("select 1");
            void IReleasable.Release() => _connection.Release();
            public void Dispose() => _connection.Release();
        }

        sealed class Renter
        {
            public Handle Rent() => new Handle();
        }

        class C
        {
            int M(Renter renter)
            {
                var handle = renter.Rent();
                try
                {
                    return handle.Work();
                }
                finally
                {
                    handle.Dispose();
                }
            }
        }
        """, "tenantdbguard.acquire_methods = Rent\n", ReleaseInFinally);

    [Fact]
    public Task A_configured_release_that_is_an_extension_method_is_written_where_the_code_has_no_release() => Verify.VerifyCodeFixWithEditorConfigAsync("""
        using Prelude;

        static class LegacyExtensions
        {
            public static void GiveBack(this LegacyConnection connection) => connection.Inner.Release();
        }

        sealed class LegacyConnection
        {
            public PooledConnection Inner { get; } = new Pool().GetConnection();

            public int Execute(string sql) => Inner.Execute(sql);
        }

        sealed class Box
        {
            public LegacyConnection Take() => new LegacyConnection();
        }

        class C
        {
            int M(Box box)
            {
                var conn = [|box.Take()|];
                return conn.Execute("delete from sessions");
            }
        }
        """, """
        using Prelude;

        static class LegacyExtensions
        {
            public static void GiveBack(this LegacyConnection connection) => connection.Inner.Release();
        }

        sealed class LegacyConnection
        {
            public PooledConnection Inner { get; } = new Pool().GetConnection();

            public int Execute(string sql) => Inner.Execute(sql);
        }

        sealed class Box
        {
            public LegacyConnection Take() => new LegacyConnection();
        }

        class C
        {
            int M(Box box)
            {
                var conn = box.Take();
                try
                {
                    return conn.Execute("delete from sessions");
                }
                finally
                {
                    conn.GiveBack();
                }
            }
        }
        """, "tenantdbguard.acquire_methods = Box.Take\ntenantdbguard.release_methods = GiveBack\n", ReleaseInFinally);

    private const string CloseOnly = """
        using Prelude;

        sealed class LegacyConnection
        {
            private readonly PooledConnection _inner = new Pool().GetConnection();

            public int Execute(string sql) => _inner.Execute(sql);
            public void Close() => _inner.Release();
        }

        sealed class LegacyPool
        {
            public LegacyConnection Rent(string tenant) => new LegacyConnection();
        }


        """;

    // Close keeps what a pooled lease holds: where the connection is given up for good (a discarded one), a type that
    // offers nothing else gets no fix rather than a Close.
    [Fact]
    public Task A_discarded_connection_of_a_type_that_only_has_Close_gets_no_fix()
    {
        const string source = CloseOnly + """
            class C
            {
                void M(LegacyPool pool)
                {
                    [|pool.Rent("tenant-1")|];
                }
            }
            """;
        return Verify.VerifyCodeFixWithEditorConfigAsync(source, source, "tenantdbguard.acquire_methods = Rent\n");
    }

    [Fact]
    public Task A_type_that_only_has_Close_is_closed_in_finally() => Verify.VerifyCodeFixWithEditorConfigAsync(CloseOnly + """
        class C
        {
            int M(LegacyPool pool)
            {
                var conn = [|pool.Rent("tenant-1")|];
                return conn.Execute("delete from queue where done = 1");
            }
        }
        """, CloseOnly + """
        class C
        {
            int M(LegacyPool pool)
            {
                var conn = pool.Rent("tenant-1");
                try
                {
                    return conn.Execute("delete from queue where done = 1");
                }
                finally
                {
                    conn.Close();
                }
            }
        }
        """, "tenantdbguard.acquire_methods = LegacyPool.Rent\n", ReleaseInFinally);

    // A retry that closes its connection and takes another: when taking the new one throws, a finally closes the old
    // one a second time. After a DbConnection's Close that does nothing, as a second Dispose does nothing, so the fix
    // stays; the Close of another type may hand its connection back twice (the analyzer reports the fixed code, TDG004).
    [Fact]
    public Task A_retry_that_closes_a_connection_of_another_type_and_takes_another_in_a_catch_gets_no_release_in_finally()
    {
        const string source = CloseOnly + """
            class C
            {
                int M(LegacyPool pool)
                {
                    var conn = [|pool.Rent("tenant-1")|];
                    for (var attempt = 0; ; attempt++)
                    {
                        try
                        {
                            return conn.Execute("select 1");
                        }
                        catch (System.Exception) when (attempt < 2)
                        {
                            conn.Close();
                            conn = [|pool.Rent("tenant-1")|];
                        }
                    }
                }
            }
            """;
        return Verify.VerifyCodeFixWithEditorConfigAsync(source, source, "tenantdbguard.acquire_methods = LegacyPool.Rent\n", ReleaseInFinally);
    }

    [Fact]
    public Task A_retry_that_closes_a_MySqlConnection_and_takes_another_in_a_catch_keeps_that_close() => Verify.VerifyCodeFixAsync("""
        using MySqlConnector;

        class C
        {
            int M(MySqlDataSource dataSource)
            {
                var conn = [|dataSource.OpenConnection()|];
                for (var attempt = 0; ; attempt++)
                {
                    try
                    {
                        return conn.Ping() ? 1 : 0;
                    }
                    catch (MySqlException) when (attempt < 2)
                    {
                        conn.Close();
                        conn = [|dataSource.OpenConnection()|];
                    }
                }
            }
        }
        """, """
        using MySqlConnector;

        class C
        {
            int M(MySqlDataSource dataSource)
            {
                var conn = dataSource.OpenConnection();
                try
                {
                    for (var attempt = 0; ; attempt++)
                    {
                        try
                        {
                            return conn.Ping() ? 1 : 0;
                        }
                        catch (MySqlException) when (attempt < 2)
                        {
                            conn.Close();
                            conn = dataSource.OpenConnection();
                        }
                    }
                }
                finally
                {
                    conn.Dispose();
                }
            }
        }
        """, ReleaseInFinally);

    // ---------------------------------------------------------------- the release written

    [Fact]
    public Task A_lease_that_may_be_null_is_disposed_async_under_a_null_check() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(LeasePool pool, bool flag)
            {
                var c = flag ? [|pool.GetConnection()|] : null;
                Log.Info("ready");
                return c is null ? 0 : await c.ExecuteAsync("select 1");
            }
        }
        """, """
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(LeasePool pool, bool flag)
            {
                var c = flag ? pool.GetConnection() : null;
                try
                {
                    Log.Info("ready");
                    return c is null ? 0 : await c.ExecuteAsync("select 1");
                }
                finally
                {
                    if (c != null)
                    {
                        await c.DisposeAsync();
                    }
                }
            }
        }
        """, ReleaseInFinally);

    // ---------------------------------------------------------------- the code's own release, kept as written

    [Theory]
    [InlineData("((IDisposable)lease).Dispose();")]
    [InlineData("(lease as IDisposable)?.Dispose();")]
    [InlineData("(lease!).Dispose();")]
    public Task A_release_through_a_cast_or_as_moves_into_finally_as_written(string release) => Verify.VerifyCodeFixAsync($$"""
        using System;
        using Prelude;

        class C
        {
            int M(LeasePool pool)
            {
                var lease = [|pool.GetConnection()|];
                var rows = lease.Execute("select 1");
                {{release}}
                return rows;
            }
        }
        """, $$"""
        using System;
        using Prelude;

        class C
        {
            int M(LeasePool pool)
            {
                var lease = pool.GetConnection();
                try
                {
                    var rows = lease.Execute("select 1");
                    return rows;
                }
                finally
                {
                    {{release}}
                }
            }
        }
        """, ReleaseInFinally);

    [Theory]
    [InlineData("await lease.DisposeAsync().AsTask();")]
    [InlineData("await lease.DisposeAsync().Preserve();")]
    [InlineData("await lease.DisposeAsync().AsTask().ConfigureAwait(true);")]
    public Task An_awaited_release_through_AsTask_or_Preserve_moves_into_finally_as_written(string release) => Verify.VerifyCodeFixAsync($$"""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(LeasePool pool)
            {
                var lease = [|pool.GetConnection()|];
                var rows = await lease.ExecuteAsync("select 1");
                {{release}}
                return rows;
            }
        }
        """, $$"""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(LeasePool pool)
            {
                var lease = pool.GetConnection();
                try
                {
                    var rows = await lease.ExecuteAsync("select 1");
                    return rows;
                }
                finally
                {
                    {{release}}
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task An_awaited_release_through_AsTask_is_removed_by_the_await_using_fix() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(LeasePool pool)
            {
                var lease = [|pool.GetConnection()|];
                var rows = await lease.ExecuteAsync("select 1");
                await lease.DisposeAsync().AsTask();
                return rows;
            }
        }
        """, """
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(LeasePool pool)
            {
                await using var lease = pool.GetConnection();
                var rows = await lease.ExecuteAsync("select 1");
                return rows;
            }
        }
        """, "TDG001.UseUsing");

    [Fact]
    public Task A_release_waited_for_with_GetAwaiter_GetResult_moves_into_finally_as_written() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(LeasePool pool)
            {
                var lease = [|pool.GetConnection()|];
                var rows = lease.Execute("select 1");
                lease.DisposeAsync().AsTask().GetAwaiter().GetResult();
                return rows;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(LeasePool pool)
            {
                var lease = pool.GetConnection();
                try
                {
                    var rows = lease.Execute("select 1");
                    return rows;
                }
                finally
                {
                    lease.DisposeAsync().AsTask().GetAwaiter().GetResult();
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task A_release_waited_for_with_GetAwaiter_GetResult_is_removed_by_the_using_fix() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(LeasePool pool)
            {
                var lease = [|pool.GetConnection()|];
                var rows = lease.Execute("select 1");
                lease.DisposeAsync().GetAwaiter().GetResult();
                return rows;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(LeasePool pool)
            {
                using var lease = pool.GetConnection();
                var rows = lease.Execute("select 1");
                return rows;
            }
        }
        """, "TDG001.UseUsing");

    [Theory]
    [InlineData("private static void Release(PooledConnection lease) => lease.Release();")]
    [InlineData("private void Release(PooledConnection lease) { Log.Info(\"giving back\"); lease.Release(); }")]
    public Task A_release_called_by_its_simple_name_with_the_connection_moves_into_finally_instead_of_a_second_release(string helper) => Verify.VerifyCodeFixAsync($$"""
        using Prelude;

        class C
        {
            int M(Pool pool, bool quick)
            {
                var lease = [|pool.GetConnection()|];
                var rows = lease.Execute("select 1");
                if (quick)
                {
                    return rows;
                }

                Release(lease);
                return rows;
            }

            {{helper}}
        }
        """, $$"""
        using Prelude;

        class C
        {
            int M(Pool pool, bool quick)
            {
                var lease = pool.GetConnection();
                try
                {
                    var rows = lease.Execute("select 1");
                    if (quick)
                    {
                        return rows;
                    }

                    return rows;
                }
                finally
                {
                    Release(lease);
                }
            }

            {{helper}}
        }
        """, ReleaseInFinally);

    [Theory]
    [InlineData("!released")]
    [InlineData("!released && rows >= 0")]
    [InlineData("rows >= 0 && !released")]
    public Task A_release_guarded_by_a_flag_that_nothing_else_reads_gets_no_fix(string guard) => NoFixVerifier.VerifyAsync($$"""
        using Prelude;

        class C
        {
            int M(Pool pool, int kind)
            {
                var lease = [|pool.GetConnection()|];
                var released = false;
                var rows = lease.Execute("select 1");
                if (kind == 1)
                {
                    lease.Release();
                    released = true;
                }

                if (kind == 2)
                {
                    return rows;
                }

                if ({{guard}})
                {
                    lease.Release();
                }

                return rows;
            }
        }
        """);

    // ---------------------------------------------------------------- releases inside helpers of the code

    /// <summary>
    /// A method that takes a connection, leaks it on an early return (so that the diagnostic is about a normal path,
    /// not only about failures) and on the other path runs <paramref name="call"/>, which hands it to a helper.
    /// </summary>
    private static string HandedToHelper(string call, string parameters = "Pool pool") => $$"""
        class C
        {
            int M({{parameters}}, bool quick)
            {
                var conn = [|pool.GetConnection()|];
                if (quick)
                {
                    return 0;
                }

                var rows = conn.Execute("delete from sessions");
                {{call}}
                return rows;
            }
        }

        """;

    [Theory]
    [InlineData("conn.GiveBack();")]
    [InlineData("PoolExtensions.GiveBack(conn);")]
    [InlineData("PoolExtensions.Recycle(conn);")]
    [InlineData("pool.Return(conn);")]
    [InlineData("pool.Return(connection: conn);")]
    [InlineData("PoolExtensions.Return(pool, conn);")]
    [InlineData("pool.ReturnAfter(\"audit\", conn);")]
    [InlineData("PoolExtensions.ReturnChecked(conn);")]
    [InlineData("PoolExtensions.ReturnHeld(conn);")]
    [InlineData("PoolExtensions.ReturnByScope(conn);")]
    [InlineData("PoolExtensions.ReturnFromArray(conn);")]
    [InlineData("PoolExtensions.ReturnFromList(conn);")]
    [InlineData("PoolExtensions.ReturnFromTuple(conn);")]
    public Task Connection_given_back_inside_a_helper_of_the_code_gets_no_fix(string release) => NoFixVerifier.VerifyAsync($$"""
        using System;
        using Prelude;

        static class PoolExtensions
        {
            public static void GiveBack(this PooledConnection connection)
            {
                Console.WriteLine("given back");
                connection.Release();
            }

            public static void Recycle(PooledConnection connection) => connection.GiveBack();

            // The connection is the second parameter: called as 'pool.Return(conn)', the argument is the first in the list.
            public static void Return(this Pool pool, PooledConnection connection)
            {
                Console.WriteLine(pool);
                connection.Release();
            }

            public static void ReturnAfter(this Pool pool, string note, PooledConnection connection)
            {
                Console.WriteLine(note);
                connection.Release();
            }

            // Through a local of the helper's own.
            public static void ReturnChecked(PooledConnection connection)
            {
                var held = connection ?? throw new ArgumentNullException(nameof(connection));
                held.Release();
            }

            public static void ReturnHeld(PooledConnection connection)
            {
                PooledConnection held;
                held = connection;
                PooledConnection last = held;
                last.Release();
            }

            // Through something the helper makes from it.
            public static void ReturnByScope(PooledConnection connection)
            {
                using (new ReturnScope(connection))
                {
                    Console.WriteLine("in scope");
                }
            }

            public static void ReturnFromArray(PooledConnection connection)
            {
                foreach (var c in new[] { connection })
                {
                    c.Release();
                }
            }

            public static void ReturnFromList(PooledConnection connection)
            {
                System.Collections.Generic.List<PooledConnection> all = [connection];
                all[0].Release();
            }

            public static void ReturnFromTuple(PooledConnection connection)
            {
                var pair = (connection, 1);
                pair.connection.Release();
            }
        }

        sealed class ReturnScope : IDisposable
        {
            private readonly PooledConnection _connection;

            public ReturnScope(PooledConnection connection) => _connection = connection;

            public void Dispose() => _connection.Release();
        }

        """ + HandedToHelper(release));

    [Fact]
    public Task Connection_a_helper_only_reads_through_a_local_of_its_own_is_released_in_finally() => Verify.VerifyCodeFixAsync("""
        using System;
        using Prelude;

        static class Reports
        {
            public static int Count(PooledConnection connection)
            {
                var held = connection ?? throw new ArgumentNullException(nameof(connection));
                PooledConnection again;
                again = held;
                return again.Execute("select count(*) from orders");
            }
        }

        class C
        {
            int M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                return Reports.Count(conn);
            }
        }
        """, """
        using System;
        using Prelude;

        static class Reports
        {
            public static int Count(PooledConnection connection)
            {
                var held = connection ?? throw new ArgumentNullException(nameof(connection));
                PooledConnection again;
                again = held;
                return again.Execute("select count(*) from orders");
            }
        }

        class C
        {
            int M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    return Reports.Count(conn);
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """);

    [Theory]
    [InlineData("returner.Return(conn);")]
    [InlineData("baseReturner.Return(conn);")]
    [InlineData("baseReturner.ReturnVirtual(conn);")]
    public Task Connection_given_to_a_method_whose_body_is_elsewhere_gets_no_fix(string call) => NoFixVerifier.VerifyAsync($$"""
        using Prelude;

        interface IReturner
        {
            void Return(PooledConnection connection);
        }

        abstract class ReturnerBase
        {
            public abstract void Return(PooledConnection connection);

            public virtual void ReturnVirtual(PooledConnection connection)
            {
            }
        }

        sealed class Returner : ReturnerBase, IReturner
        {
            public override void Return(PooledConnection connection) => connection.Release();

            public override void ReturnVirtual(PooledConnection connection) => connection.Release();
        }

        """ + HandedToHelper(call, "Pool pool, IReturner returner, ReturnerBase baseReturner"));

    [Theory]
    [InlineData("done(conn);")]
    [InlineData("Finisher(conn);")]
    [InlineData("Then(conn, c => c.Release());")]
    [InlineData("Then(conn, Finish);")]
    [InlineData("Then(conn, Finisher);")]
    [InlineData("System.Threading.ThreadPool.QueueUserWorkItem(c => c.Release(), conn, preferLocal: false);")]
    [InlineData("System.Threading.Tasks.Task.Factory.StartNew(o => ((PooledConnection)o!).Release(), conn).Wait();")]
    [InlineData("System.Threading.Tasks.Task.Factory.StartNew(o => Finish((PooledConnection)o!), conn).Wait();")]
    public Task Connection_given_to_a_delegate_gets_no_fix(string call) => NoFixVerifier.VerifyAsync($$"""
        using System;
        using Prelude;

        class C
        {
            static readonly Action<PooledConnection> Finisher = c => c.Release();

            static void Finish(PooledConnection c) => c.Release();

            static void Then(PooledConnection c, Action<PooledConnection> then) => then(c);

            int M(Pool pool, Action<PooledConnection> done, bool quick)
            {
                var conn = [|pool.GetConnection()|];
                if (quick)
                {
                    // Leaks here: the diagnostic is about this path, not only about failures.
                    return 0;
                }

                var rows = conn.Execute("delete from sessions");
                {{call}}
                return rows;
            }
        }
        """);

    /// <summary>
    /// A helper that gives the connection back under another name (a pattern's local, a member of an object it makes,
    /// an out parameter): the fix must not add a release of its own, only protect what comes before the call where it
    /// sees the connection stored.
    /// </summary>
    [Theory]
    [InlineData("Hidden.ByPattern(conn);")]
    [InlineData("Hidden.ByBox(conn);")]
    [InlineData("Hidden.ByBoxMethod(conn);")]
    [InlineData("conn.ByBoxExtension();")]
    [InlineData("Hidden.BySwitch(conn);")]
    [InlineData("Hidden.ByOut(conn);")]
    [InlineData("Hidden.ByExchange(conn);")]
    [InlineData("Hidden.ByLibraryOut(conn);")]
    [InlineData("Hidden.BySwitchExpression(conn);")]
    public Task Connection_released_by_a_helper_under_another_name_gets_no_release_of_the_fix(string call) => NoFixVerifier.VerifyOnlyAsync($$"""
        using Prelude;

        sealed class Box
        {
            public PooledConnection Conn;

            public void Close() => Conn.Release();
        }

        static class Hidden
        {
            public static void ByPattern(object c)
            {
                if (c is PooledConnection p)
                {
                    p.Release();
                }
            }

            public static void ByBox(PooledConnection c)
            {
                var box = new Box { Conn = c };
                box.Conn.Release();
            }

            public static void ByBoxMethod(PooledConnection c) => new Box { Conn = c }.Close();

            public static void ByBoxExtension(this PooledConnection c) => new Box { Conn = c }.Close();

            public static void BySwitch(PooledConnection c)
            {
                switch (c)
                {
                    case { } p:
                        p.Release();
                        break;
                }
            }

            public static void ByOut(PooledConnection c)
            {
                Pass(c, out var p);
                p.Release();
            }

            static void Pass(PooledConnection c, out PooledConnection p) => p = c;

            public static void ByExchange(PooledConnection c)
            {
                PooledConnection p = null;
                System.Threading.Interlocked.Exchange(ref p, c);
                p.Release();
            }

            public static void ByLibraryOut(PooledConnection c)
            {
                Handoff.Pass(c, out var p);
                p.Release();
            }

            public static int BySwitchExpression(PooledConnection c) => c switch
            {
                { } p => Give(p),
                _ => 0,
            };

            static int Give(PooledConnection p)
            {
                p.Release();
                return 1;
            }
        }

        """ + HandedToHelper(call), ["Dispose on failure"]);

    [Theory]
    [InlineData("void Done() => conn.Release();\n        var rows = conn.Execute(\"delete from sessions\");\n        Done();\n        return rows;")]
    [InlineData("void Done() => conn?.Release();\n        var rows = conn.Execute(\"delete from sessions\");\n        Done();\n        return rows;")]
    [InlineData("System.Action done = () => conn.Release();\n        var rows = conn.Execute(\"delete from sessions\");\n        done();\n        return rows;")]
    [InlineData("var rows = conn.Execute(\"delete from sessions\");\n        new System.Action(() => conn.Release())();\n        return rows;")]
    [InlineData("var rows = conn.Execute(\"delete from sessions\");\n        ((System.Action)conn.Release)();\n        return rows;")]
    public Task Connection_released_by_a_function_of_the_method_gets_no_release_of_the_fix(string body) =>
        NoFixVerifier.VerifyOnlyAsync("using Prelude;\n\nclass C\n{\n    int M(Pool pool)\n    {\n        var conn = [|pool.GetConnection()|];\n        " + body + "\n    }\n}\n", ["Dispose on failure"]);

    /// <summary>
    /// A helper of the code that gives the connection back on some paths only: the analyzer reports the paths on which
    /// it does not, and the fix must not add a release of its own (on the others it would be the second).
    /// </summary>
    [Theory]
    [InlineData("Maybe.Release(conn, done);")]
    [InlineData("Maybe.ReleaseIfAny(conn, done);")]
    [InlineData("Maybe.ReleaseByPool(pool, conn, done);")]
    [InlineData("Maybe.ReleaseByExtension(conn, done);")]
    [InlineData("Maybe.ReleaseChecked(conn, done);")]
    [InlineData("Maybe.ReleaseFromArray(conn, done);")]
    [InlineData("Maybe.ReleaseByScope(conn, done);")]
    public Task Connection_a_helper_gives_back_on_some_paths_only_gets_no_release_of_the_fix(string call) => NoFixVerifier.VerifyOnlyAsync($$"""
        using System;
        using Prelude;

        static class Maybe
        {
            public static void Release(PooledConnection c, bool done)
            {
                if (done)
                {
                    c.Release();
                }
            }

            public static void ReleaseIfAny(PooledConnection c, bool done)
            {
                if (done)
                {
                    c?.Release();
                }
            }

            public static void ReleaseByPool(Pool pool, PooledConnection c, bool done)
            {
                if (done)
                {
                    pool.GiveBack(c);
                }
            }

            public static void ReleaseByExtension(PooledConnection c, bool done)
            {
                if (done)
                {
                    c.Finish();
                }
            }

            public static void ReleaseChecked(PooledConnection c, bool done)
            {
                var held = done ? c : null;
                held?.Release();
            }

            public static void ReleaseFromArray(PooledConnection c, bool done)
            {
                foreach (var each in new[] { done ? c : null })
                {
                    each?.Release();
                }
            }

            public static void ReleaseByScope(PooledConnection c, bool done)
            {
                using (new ReleaseScope(done ? c : null))
                {
                    Console.WriteLine("in scope");
                }
            }

            public static void GiveBack(this Pool pool, PooledConnection c) => c.Release();

            public static void Finish(this PooledConnection c) => c.Release();
        }

        sealed class ReleaseScope : IDisposable
        {
            private readonly PooledConnection? _connection;

            public ReleaseScope(PooledConnection? connection) => _connection = connection;

            public void Dispose() => _connection?.Release();
        }

        """ + HandedToHelper(call, "Pool pool, bool done"), ["Dispose on failure"]);

    /// <summary>
    /// The analyzer finds every normal path released, by a helper whose release the fix cannot read (here through
    /// reflection): the fix must not add a release of its own.
    /// </summary>
    [Fact]
    public Task Connection_released_where_the_fix_cannot_read_it_while_the_analyzer_finds_it_released_gets_no_release_of_the_fix() =>
        NoFixVerifier.VerifyWhenOnlyFailuresLeakAsync("""
        using Prelude;

        static class Hidden
        {
            public static void ByReflection(PooledConnection c) => typeof(PooledConnection).GetMethod("Release")!.Invoke(c, null);
        }

        class C
        {
            int M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                var rows = conn.Execute("delete from sessions");
                Hidden.ByReflection(conn);
                return rows;
            }
        }
        """, ["Dispose on failure"]);

    [Theory]
    [InlineData("Leases.Finish(lease);")]
    [InlineData("Leases.FinishInBlock(lease);")]
    [InlineData("Leases.FinishWhole(lease);")]
    [InlineData("Leases.FinishByPattern(lease);")]
    public Task Lease_disposed_by_a_using_inside_a_helper_of_the_code_gets_no_fix(string call) => NoFixVerifier.VerifyAsync($$"""
        using System;
        using Prelude;

        static class Leases
        {
            public static void Finish(ConnectionLease lease)
            {
                using var held = lease;
                Console.WriteLine(held.Execute("select 1"));
            }

            public static void FinishInBlock(ConnectionLease lease)
            {
                using (var held = lease)
                {
                    Console.WriteLine(held.Execute("select 1"));
                }
            }

            public static void FinishByPattern(object lease)
            {
                if (lease is ConnectionLease held)
                {
                    held.Dispose();
                }
            }

            public static void FinishWhole(ConnectionLease lease)
            {
                using (lease)
                {
                    Console.WriteLine(lease.Execute("select 1"));
                }
            }
        }

        class C
        {
            int M(LeasePool pool, bool quick)
            {
                var lease = [|pool.GetConnection()|];
                if (quick)
                {
                    // Leaks here: the diagnostic is about this path, not only about failures.
                    return 0;
                }

                var rows = lease.Execute("delete from sessions");
                {{call}}
                return rows;
            }
        }
        """);

    [Theory]
    [InlineData("Chain.First(conn);")]
    [InlineData("Chain.Keep(conn);")]
    [InlineData("Chain.Use(conn);")]
    public Task Connection_given_to_a_chain_of_helpers_deeper_than_the_fix_follows_gets_no_fix(string call) => NoFixVerifier.VerifyAsync($$"""
        using Prelude;

        static class Chain
        {
            public static PooledConnection Kept;

            // Four calls deep before the release or the store: past what the fix reads, so it cannot tell.
            public static void First(PooledConnection c) => Second(c);
            static void Second(PooledConnection c) => Third(c);
            static void Third(PooledConnection c) => Fourth(c);
            static void Fourth(PooledConnection c) => Last(c);
            static void Last(PooledConnection c) => c.Release();

            public static void Keep(PooledConnection c) => KeepSecond(c);
            static void KeepSecond(PooledConnection c) => KeepThird(c);
            static void KeepThird(PooledConnection c) => KeepFourth(c);
            static void KeepFourth(PooledConnection c) => KeepLast(c);
            static void KeepLast(PooledConnection c) => Kept = c;

            // Neither: the fix cannot tell that either.
            public static void Use(PooledConnection c) => UseSecond(c);
            static void UseSecond(PooledConnection c) => UseThird(c);
            static void UseThird(PooledConnection c) => UseFourth(c);
            static void UseFourth(PooledConnection c) => UseLast(c);
            static void UseLast(PooledConnection c) => c.Execute("select 1");
        }

        """ + HandedToHelper(call));

    /// <summary>
    /// <see cref="HandedToHelper"/> fixed for a helper that keeps the connection: released on the paths before
    /// <paramref name="call"/> (the early return, a failure), and handed over by the call. <paramref name="stillReported"/>
    /// when the analyzer, which does not see the helper keep it, still reports the path through the call.
    /// </summary>
    private static string ReleasedOnlyBeforeTheCall(string call, bool stillReported) => $$"""
        class C
        {
            int M(Pool pool, bool quick)
            {
                var conn = {{(stillReported ? "[|pool.GetConnection()|]" : "pool.GetConnection()")}};
                int rows;
                try
                {
                    if (quick)
                    {
                        conn.Release();
                        return 0;
                    }

                    rows = conn.Execute("delete from sessions");
                }
                catch
                {
                    conn.Release();
                    throw;
                }

                {{call}}
                return rows;
            }
        }

        """;

    /// <summary>
    /// A helper that puts the connection in an object it only stores (<c>Held = new Box { Conn = c }</c>) keeps it, and
    /// does not release it: the fix releases it only on the paths before the call.
    /// </summary>
    [Fact]
    public Task Connection_stored_inside_an_object_by_a_helper_of_the_code_is_handed_off_to_it()
    {
        const string call = "Boxes.Hold(conn);";
        const string boxes = """
            using Prelude;

            sealed class Box
            {
                public PooledConnection Conn;
            }

            static class Boxes
            {
                public static Box Held;

                public static void Hold(PooledConnection c) => Held = new Box { Conn = c };
            }

            """;
        return Verify.VerifyCodeFixAsync(boxes + HandedToHelper(call), boxes + ReleasedOnlyBeforeTheCall(call, stillReported: false), execution: Execution.Skip("The connection stays in the box the helper keeps: held before and after the fix, as the code intends."));
    }

    /// <summary>
    /// A helper that captures the connection in a lambda or local function it keeps: the lambda runs later, so the
    /// connection is handed off there, and the fix releases it only on the paths before the call (the analyzer, which
    /// does not read the helper's body, still reports the path through the call).
    /// </summary>
    [Theory]
    [InlineData("Later.Defer(conn);")]
    [InlineData("Later.Inside(conn);")]
    public Task Connection_captured_by_a_lambda_in_a_helper_of_the_code_is_handed_off_to_it(string call)
    {
        const string later = """
            using System;
            using Prelude;

            static class Later
            {
                public static Func<int> Pending;

                public static void Defer(PooledConnection c) => Pending = () => c.Execute("select 1");

                public static void Inside(PooledConnection c)
                {
                    int Run() => c.Execute("select 1");
                    Pending = Run;
                }
            }

            """;
        return Verify.VerifyCodeFixAsync(later + HandedToHelper(call), later + ReleasedOnlyBeforeTheCall(call, stillReported: true), execution: Execution.Skip("The connection stays with the lambda the helper keeps, which nothing runs: held before and after the fix, as the code intends."));
    }

    [Theory]
    [InlineData("Many.ReturnAll(conn);")]
    [InlineData("Many.ReturnAll(conn, conn);")]
    [InlineData("Many.ReturnAfter(\"audit\", conn);")]
    [InlineData("pool.ReturnAll(conn);")]
    [InlineData("Many.KeepAll(conn);")]
    [InlineData("Many.Forward(conn);")]
    public Task Connection_given_to_a_helper_as_one_of_its_params_gets_no_fix(string call) => NoFixVerifier.VerifyAsync($$"""
        using System;
        using System.Collections.Generic;
        using Prelude;

        static class Many
        {
            public static readonly List<PooledConnection> Kept = new();

            // The connection lands in the 'params' array: the body reaches it through the array, not by the parameter's name.
            public static void ReturnAll(params PooledConnection[] connections)
            {
                foreach (var c in connections)
                {
                    c.Release();
                }
            }

            public static void ReturnAfter(string note, params PooledConnection[] connections)
            {
                Console.WriteLine(note);
                connections[0].Release();
            }

            public static void ReturnAll(this Pool pool, params PooledConnection[] connections) => ReturnAll(connections);

            public static void KeepAll(params PooledConnection[] connections) => Kept.AddRange(connections);

            public static void Forward(PooledConnection c) => ReturnAll(c);
        }

        """ + HandedToHelper(call));

    [ParamsCollectionsFact]
    public Task Connection_given_to_a_helper_as_one_of_its_params_collection_gets_no_fix() => NoFixVerifier.VerifyAsync("""
        using System.Collections.Generic;
        using Prelude;

        static class Many
        {
            public static void ReturnEach(params IEnumerable<PooledConnection> connections)
            {
                foreach (var c in connections)
                {
                    c.Release();
                }
            }
        }

        """ + HandedToHelper("Many.ReturnEach(conn);"));

    [Fact]
    public Task A_configured_release_of_a_disposable_type_is_kept_in_finally_rather_than_replaced_by_a_using() => Verify.VerifyCodeFixWithEditorConfigAsync("""
        using System;
        using Prelude;

        sealed class LegacyConnection : IDisposable
        {
            private readonly PooledConnection _inner = new Pool().GetConnection();

            public int Execute(string sql) => _inner.Execute(sql);
            public void GiveBack() => _inner.Release();

            // Drops the socket of a connection the pool no longer wants; it does not give it back.
            public void Dispose() { }
        }

        sealed class LegacyPool
        {
            public LegacyConnection Rent(string tenant) => new LegacyConnection();
        }

        class C
        {
            int M(LegacyPool pool)
            {
                var conn = [|pool.Rent("tenant-1")|];
                var rows = conn.Execute("delete from queue where done = 1");
                conn.GiveBack();
                return rows;
            }
        }
        """, """
        using System;
        using Prelude;

        sealed class LegacyConnection : IDisposable
        {
            private readonly PooledConnection _inner = new Pool().GetConnection();

            public int Execute(string sql) => _inner.Execute(sql);
            public void GiveBack() => _inner.Release();

            // Drops the socket of a connection the pool no longer wants; it does not give it back.
            public void Dispose() { }
        }

        sealed class LegacyPool
        {
            public LegacyConnection Rent(string tenant) => new LegacyConnection();
        }

        class C
        {
            int M(LegacyPool pool)
            {
                var conn = pool.Rent("tenant-1");
                try
                {
                    var rows = conn.Execute("delete from queue where done = 1");
                    return rows;
                }
                finally
                {
                    conn.GiveBack();
                }
            }
        }
        """, "tenantdbguard.acquire_methods = LegacyPool.Rent\ntenantdbguard.release_methods = GiveBack\n");

    [Fact]
    public Task A_configured_release_written_as_a_call_with_type_arguments_moves_into_finally() => Verify.VerifyCodeFixWithEditorConfigAsync("""
        using Prelude;

        sealed class LegacyConnection
        {
            private readonly PooledConnection _inner = new Pool().GetConnection();

            public int Execute(string sql) => _inner.Execute(sql);
            public void GiveBack() => _inner.Release();
        }

        sealed class LegacyPool<TTenant>
        {
            public LegacyConnection Rent(TTenant tenant) => new LegacyConnection();
        }

        class C
        {
            int M(LegacyPool<string> pool)
            {
                var conn = [|pool.Rent("tenant-1")|];
                var rows = conn.Execute("delete from queue where done = 1");
                conn.GiveBack();
                return rows;
            }
        }
        """, """
        using Prelude;

        sealed class LegacyConnection
        {
            private readonly PooledConnection _inner = new Pool().GetConnection();

            public int Execute(string sql) => _inner.Execute(sql);
            public void GiveBack() => _inner.Release();
        }

        sealed class LegacyPool<TTenant>
        {
            public LegacyConnection Rent(TTenant tenant) => new LegacyConnection();
        }

        class C
        {
            int M(LegacyPool<string> pool)
            {
                var conn = pool.Rent("tenant-1");
                try
                {
                    var rows = conn.Execute("delete from queue where done = 1");
                    return rows;
                }
                finally
                {
                    conn.GiveBack();
                }
            }
        }
        """, "tenantdbguard.acquire_methods = LegacyPool<TTenant>.Rent()\ntenantdbguard.release_methods = LegacyConnection.GiveBack()\n");

    // A lambda's parameter of the same name (C# 8 lets it shadow) is not the helper's: the helper does not release what
    // it is given, and the caller's connection gets its release.
    [Fact]
    public Task A_helper_whose_lambda_releases_a_parameter_of_the_same_name_does_not_release_what_it_is_given() => Verify.VerifyCodeFixAsync("""
        using System.Collections.Generic;
        using Prelude;

        class C
        {
            static int Count(PooledConnection connection)
            {
                new List<PooledConnection>().ForEach(connection => connection.Release());
                return connection.Execute("select 1");
            }

            int M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                return Count(conn);
            }
        }
        """, """
        using System.Collections.Generic;
        using Prelude;

        class C
        {
            static int Count(PooledConnection connection)
            {
                new List<PooledConnection>().ForEach(connection => connection.Release());
                return connection.Execute("select 1");
            }

            int M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    return Count(conn);
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """);
}
