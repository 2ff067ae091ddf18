using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Testing;
using TenantDbGuard.Analyzers.Tests.FixExecution;
using TenantDbGuard.Analyzers.Tests.Verifiers;
using Verify = TenantDbGuard.Analyzers.Tests.Verifiers.CSharpCodeFixVerifier<
    TenantDbGuard.Analyzers.ConnectionLeakAnalyzer,
    TenantDbGuard.CodeFixes.ConnectionLeakCodeFixProvider>;

namespace TenantDbGuard.Analyzers.Tests;

/// <summary>
/// Shapes the first fixes got wrong or left alone: connections opened again in a loop, tasks awaited later,
/// <c>Task.WhenAll</c>, expression-bodied members, conditional acquisitions, generic connection types, releases through
/// <c>IDisposable</c>, locals of any name, retry loops. Each fixed result is also run by the execution check.
/// </summary>
[Collection(FixExecutionCollection.Name)]
public sealed class ConnectionLeakCodeFixShapeTests
{
    private const string UseUsing = "TDG001.UseUsing";
    private const string ReleaseInFinally = "TDG001.ReleaseInFinally";

    // ---------------------------------------------------------------- connections opened again

    [Fact]
    public Task Connection_opened_and_closed_in_each_iteration_is_closed_in_finally_and_keeps_its_final_dispose() => Verify.VerifyCodeFixAsync("""
        using System.Collections.Generic;
        using MySqlConnector;

        class C
        {
            void M(string connectionString, IEnumerable<string> batch)
            {
                var conn = new MySqlConnection(connectionString);
                foreach (var sql in batch)
                {
                    [|conn.Open()|];
                    using var command = new MySqlCommand(sql, conn);
                    command.ExecuteNonQuery();
                    conn.Close();
                }

                conn.Dispose();
            }
        }
        """, """
        using System.Collections.Generic;
        using MySqlConnector;

        class C
        {
            void M(string connectionString, IEnumerable<string> batch)
            {
                var conn = new MySqlConnection(connectionString);
                foreach (var sql in batch)
                {
                    conn.Open();
                    try
                    {
                        using var command = new MySqlCommand(sql, conn);
                        command.ExecuteNonQuery();
                    }
                    finally
                    {
                        conn.Close();
                    }
                }

                conn.Dispose();
            }
        }
        """);

    // The iteration's own Close (or awaited CloseAsync) is the one that moves into the finally, with its comment.
    [Theory]
    [InlineData("void", "conn.Close();")]
    [InlineData("async Task", "await conn.CloseAsync();")]
    public Task The_iteration_s_own_close_moves_into_the_finally_as_written(string signature, string close) => Verify.VerifyCodeFixAsync($$"""
        using System.Collections.Generic;
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            {{signature}} M(string connectionString, IEnumerable<string> batch)
            {
                var conn = new MySqlConnection(connectionString);
                foreach (var sql in batch)
                {
                    [|conn.Open()|];
                    using var command = new MySqlCommand(sql, conn);
                    command.ExecuteNonQuery();
                    {{close}} // back to the pool until the next batch
                }

                conn.Dispose();
            }
        }
        """, $$"""
        using System.Collections.Generic;
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            {{signature}} M(string connectionString, IEnumerable<string> batch)
            {
                var conn = new MySqlConnection(connectionString);
                foreach (var sql in batch)
                {
                    conn.Open();
                    try
                    {
                        using var command = new MySqlCommand(sql, conn);
                        command.ExecuteNonQuery();
                    }
                    finally
                    {
                        {{close}} // back to the pool until the next batch
                    }
                }

                conn.Dispose();
            }
        }
        """);

    [Theory]
    [InlineData("lock (_gate)", "conn.Close();")]
    [InlineData("using (await Gate())", "await conn.CloseAsync();")]
    public Task Connection_opened_in_each_iteration_of_an_async_method_is_closed_without_await_inside_a_lock(string around, string close) =>
        // 'await' cannot stand inside a 'lock': there the fix closes synchronously; elsewhere it awaits CloseAsync.
        Verify.VerifyCodeFixAsync($$"""
            using System;
            using System.Collections.Generic;
            using System.Threading.Tasks;
            using MySqlConnector;

            class C
            {
                private readonly object _gate = new object();

                static Task<IDisposable> Gate() => Task.FromResult<IDisposable>(new System.IO.MemoryStream());

                async Task M(string connectionString, IEnumerable<string> batch)
                {
                    await Task.Yield();
                    var conn = new MySqlConnection(connectionString);
                    {{around}}
                    {
                        foreach (var sql in batch)
                        {
                            [|conn.Open()|];
                            using var command = new MySqlCommand(sql, conn);
                            command.ExecuteNonQuery();
                        }
                    }
                }
            }
            """, $$"""
            using System;
            using System.Collections.Generic;
            using System.Threading.Tasks;
            using MySqlConnector;

            class C
            {
                private readonly object _gate = new object();

                static Task<IDisposable> Gate() => Task.FromResult<IDisposable>(new System.IO.MemoryStream());

                async Task M(string connectionString, IEnumerable<string> batch)
                {
                    await Task.Yield();
                    var conn = new MySqlConnection(connectionString);
                    {{around}}
                    {
                        foreach (var sql in batch)
                        {
                            conn.Open();
                            try
                            {
                                using var command = new MySqlCommand(sql, conn);
                                command.ExecuteNonQuery();
                            }
                            finally
                            {
                                {{close}}
                            }
                        }
                    }
                }
            }
            """);

    [Fact]
    public Task Connection_opened_in_each_iteration_and_closed_after_the_loop_is_closed_in_each_iteration() => Verify.VerifyCodeFixAsync("""
        using System.Collections.Generic;
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            async Task M(string connectionString, IEnumerable<string> batch)
            {
                var conn = new MySqlConnection(connectionString);
                foreach (var sql in batch)
                {
                    await [|conn.OpenAsync()|];
                    await Run(conn, sql);
                }

                await conn.CloseAsync();
            }

            static async Task Run(MySqlConnection conn, string sql)
            {
                await using var command = new MySqlCommand(sql, conn);
                await command.ExecuteNonQueryAsync();
            }
        }
        """, """
        using System.Collections.Generic;
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            async Task M(string connectionString, IEnumerable<string> batch)
            {
                var conn = new MySqlConnection(connectionString);
                foreach (var sql in batch)
                {
                    await conn.OpenAsync();
                    try
                    {
                        await Run(conn, sql);
                    }
                    finally
                    {
                        await conn.CloseAsync();
                    }
                }

                await conn.CloseAsync();
            }

            static async Task Run(MySqlConnection conn, string sql)
            {
                await using var command = new MySqlCommand(sql, conn);
                await command.ExecuteNonQueryAsync();
            }
        }
        """);

    // A condition that reads more of the connection than its state still marks the open as one that runs only when the
    // connection is closed: the whole loop is the connection's life.
    [Theory]
    [InlineData("conn.State != ConnectionState.Open")]
    [InlineData("conn.State != ConnectionState.Open && conn.ConnectionString.Length > 0")]
    public Task Connection_opened_if_closed_inside_a_loop_becomes_using_around_the_loop(string closed) => Verify.VerifyCodeFixAsync($$"""
        using System.Collections.Generic;
        using System.Data;
        using MySqlConnector;

        class C
        {
            void M(string connectionString, IEnumerable<string> batch)
            {
                var conn = new MySqlConnection(connectionString);
                foreach (var sql in batch)
                {
                    if ({{closed}})
                    {
                        [|conn.Open()|];
                    }

                    using var command = new MySqlCommand(sql, conn);
                    command.ExecuteNonQuery();
                }

                conn.Close();
            }
        }
        """, $$"""
        using System.Collections.Generic;
        using System.Data;
        using MySqlConnector;

        class C
        {
            void M(string connectionString, IEnumerable<string> batch)
            {
                using var conn = new MySqlConnection(connectionString);
                foreach (var sql in batch)
                {
                    if ({{closed}})
                    {
                        conn.Open();
                    }

                    using var command = new MySqlCommand(sql, conn);
                    command.ExecuteNonQuery();
                }
            }
        }
        """);

    [Fact]
    public Task Connection_opened_if_closed_inside_a_loop_can_be_closed_in_a_finally_around_the_loop() => Verify.VerifyCodeFixAsync("""
        using System.Collections.Generic;
        using System.Data;
        using MySqlConnector;

        class C
        {
            void M(string connectionString, IEnumerable<string> batch)
            {
                var conn = new MySqlConnection(connectionString);
                foreach (var sql in batch)
                {
                    if (conn.State != ConnectionState.Open)
                    {
                        [|conn.Open()|];
                    }

                    using var command = new MySqlCommand(sql, conn);
                    command.ExecuteNonQuery();
                }

                conn.Close();
            }
        }
        """, """
        using System.Collections.Generic;
        using System.Data;
        using MySqlConnector;

        class C
        {
            void M(string connectionString, IEnumerable<string> batch)
            {
                var conn = new MySqlConnection(connectionString);
                try
                {
                    foreach (var sql in batch)
                    {
                        if (conn.State != ConnectionState.Open)
                        {
                            conn.Open();
                        }

                        using var command = new MySqlCommand(sql, conn);
                        command.ExecuteNonQuery();
                    }
                }
                finally
                {
                    conn.Close();
                }
            }
        }
        """, ReleaseInFinally);

    // In nested loops, opened if closed in the inner one and closed after the outer one: the connection stays open
    // from one batch to the next, and the whole outer loop is its life.
    [Fact]
    public Task Connection_opened_if_closed_in_nested_loops_becomes_using_around_the_outer_loop() => Verify.VerifyCodeFixAsync("""
        using System.Collections.Generic;
        using System.Data;
        using MySqlConnector;

        class C
        {
            int M(string connectionString, IEnumerable<string[]> batches)
            {
                var conn = new MySqlConnection(connectionString);
                var done = 0;
                foreach (var batch in batches)
                {
                    foreach (var sql in batch)
                    {
                        if (conn.State != ConnectionState.Open)
                        {
                            [|conn.Open()|];
                        }

                        using var command = new MySqlCommand(sql, conn);
                        done += command.ExecuteNonQuery();
                    }
                }

                conn.Close();
                return done;
            }
        }
        """, """
        using System.Collections.Generic;
        using System.Data;
        using MySqlConnector;

        class C
        {
            int M(string connectionString, IEnumerable<string[]> batches)
            {
                using var conn = new MySqlConnection(connectionString);
                var done = 0;
                foreach (var batch in batches)
                {
                    foreach (var sql in batch)
                    {
                        if (conn.State != ConnectionState.Open)
                        {
                            conn.Open();
                        }

                        using var command = new MySqlCommand(sql, conn);
                        done += command.ExecuteNonQuery();
                    }
                }

                return done;
            }
        }
        """);

    // A Close inside the loop that opens the connection when it finds it closed lets the connection go between
    // iterations, and the next one opens it again: it stays where the code put it, and the finally closes what the last
    // iteration left open.
    [Fact]
    public Task A_conditional_close_inside_the_loop_that_opens_if_closed_stays_and_the_finally_closes_after_the_loop() => Verify.VerifyCodeFixAsync("""
        using System.Collections.Generic;
        using System.Data;
        using MySqlConnector;

        class C
        {
            int M(string connectionString, IEnumerable<string> batch)
            {
                var conn = new MySqlConnection(connectionString);
                var done = 0;
                foreach (var sql in batch)
                {
                    if (conn.State != ConnectionState.Open)
                    {
                        [|conn.Open()|];
                    }

                    using var command = new MySqlCommand(sql, conn);
                    done += command.ExecuteNonQuery();
                    if (done > 100)
                    {
                        conn.Close();
                    }
                }

                conn.Close();
                return done;
            }
        }
        """, """
        using System.Collections.Generic;
        using System.Data;
        using MySqlConnector;

        class C
        {
            int M(string connectionString, IEnumerable<string> batch)
            {
                var conn = new MySqlConnection(connectionString);
                var done = 0;
                try
                {
                    foreach (var sql in batch)
                    {
                        if (conn.State != ConnectionState.Open)
                        {
                            conn.Open();
                        }

                        using var command = new MySqlCommand(sql, conn);
                        done += command.ExecuteNonQuery();
                        if (done > 100)
                        {
                            conn.Close();
                        }
                    }
                }
                finally
                {
                    conn.Close();
                }

                return done;
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task Closes_inside_nested_loops_that_open_if_closed_stay_and_the_finally_closes_after_the_outer_loop() => Verify.VerifyCodeFixAsync("""
        using System.Collections.Generic;
        using System.Data;
        using MySqlConnector;

        class C
        {
            int M(string connectionString, IEnumerable<string[]> batches)
            {
                var conn = new MySqlConnection(connectionString);
                var done = 0;
                foreach (var batch in batches)
                {
                    foreach (var sql in batch)
                    {
                        if (conn.State != ConnectionState.Open)
                        {
                            [|conn.Open()|];
                        }

                        using var command = new MySqlCommand(sql, conn);
                        done += command.ExecuteNonQuery();
                        if (done > 100)
                        {
                            conn.Close();
                        }
                    }

                    conn.Close();
                }

                conn.Close();
                return done;
            }
        }
        """, """
        using System.Collections.Generic;
        using System.Data;
        using MySqlConnector;

        class C
        {
            int M(string connectionString, IEnumerable<string[]> batches)
            {
                var conn = new MySqlConnection(connectionString);
                var done = 0;
                try
                {
                    foreach (var batch in batches)
                    {
                        foreach (var sql in batch)
                        {
                            if (conn.State != ConnectionState.Open)
                            {
                                conn.Open();
                            }

                            using var command = new MySqlCommand(sql, conn);
                            done += command.ExecuteNonQuery();
                            if (done > 100)
                            {
                                conn.Close();
                            }
                        }

                        conn.Close();
                    }
                }
                finally
                {
                    conn.Close();
                }

                return done;
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task Connection_opened_again_later_in_the_method_is_closed_not_disposed() => Verify.VerifyCodeFixAsync("""
        using System;
        using MySqlConnector;

        class C
        {
            long M(string connectionString)
            {
                var conn = new MySqlConnection(connectionString);
                [|conn.Open()|];
                using (var first = new MySqlCommand("update sessions set expires_at = now()", conn))
                {
                    first.ExecuteNonQuery();
                }

                conn.Close();
                Log("between");
                [|conn.Open()|];
                using var second = new MySqlCommand("select count(*) from sessions", conn);
                var count = Convert.ToInt64(second.ExecuteScalar());
                conn.Dispose();
                return count;
            }

            static void Log(string message) { }
        }
        """, """
        using System;
        using MySqlConnector;

        class C
        {
            long M(string connectionString)
            {
                var conn = new MySqlConnection(connectionString);
                conn.Open();
                try
                {
                    using (var first = new MySqlCommand("update sessions set expires_at = now()", conn))
                    {
                        first.ExecuteNonQuery();
                    }
                }
                finally
                {
                    conn.Close();
                }

                Log("between");
                conn.Open();
                try
                {
                    using var second = new MySqlCommand("select count(*) from sessions", conn);
                    var count = Convert.ToInt64(second.ExecuteScalar());
                    return count;
                }
                finally
                {
                    conn.Dispose();
                }
            }

            static void Log(string message) { }
        }
        """);

    // ---------------------------------------------------------------- an acquisition inside a finally

    private const string AcquiredInFinally = """
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                try
                {
                    Log.Info("work");
                }
                finally
                {
                    var conn = [|pool.GetConnection()|];
                    conn.Execute("insert into audit values (1)");
                    conn.Release();
                }
            }
        }
        """;

    [Fact]
    public Task Connection_acquired_inside_a_finally_is_released_in_a_finally_of_its_own() => Verify.VerifyCodeFixAsync(AcquiredInFinally, """
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                try
                {
                    Log.Info("work");
                }
                finally
                {
                    var conn = pool.GetConnection();
                    try
                    {
                        conn.Execute("insert into audit values (1)");
                    }
                    finally
                    {
                        conn.Release();
                    }
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task Connection_acquired_inside_a_finally_whose_try_releases_another_one_is_still_fixed() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                PooledConnection? conn = null;
                try
                {
                    conn = pool.GetConnection();
                    conn.Execute("update jobs set state = 1");
                }
                finally
                {
                    conn?.Release();
                    conn = [|pool.GetConnection()|];
                    conn.Execute("insert into audit values (1)");
                    conn.Release();
                }
            }
        }
        """, """
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                PooledConnection? conn = null;
                try
                {
                    conn = pool.GetConnection();
                    conn.Execute("update jobs set state = 1");
                }
                finally
                {
                    conn?.Release();
                    conn = pool.GetConnection();
                    try
                    {
                        conn.Execute("insert into audit values (1)");
                    }
                    finally
                    {
                        conn.Release();
                    }
                }
            }
        }
        """, ReleaseInFinally);

    // ---------------------------------------------------------------- tasks awaited later

    [Fact]
    public Task Acquisition_awaited_later_releases_the_awaited_connection_not_the_task() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(Pool pool)
            {
                var pending = [|pool.GetConnectionAsync()|];
                Log.Info("waiting");
                var conn = await pending;
                var rows = await conn.ExecuteAsync("select 1");
                conn.Release();
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
                Log.Info("waiting");
                var conn = await pool.GetConnectionAsync();
                try
                {
                    var rows = await conn.ExecuteAsync("select 1");
                    return rows;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """);

    // Only the statements between the task and its await decide whether the call can move there: what comes after the
    // await (here the pool the call was made on, replaced) runs after the call in both places.
    [Fact]
    public Task Acquisition_awaited_later_whose_pool_is_replaced_after_the_await_is_moved_to_its_await() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(Pool pool, Pool other)
            {
                var pending = [|pool.GetConnectionAsync()|];
                Log.Info("waiting");
                var conn = await pending;
                pool = other;
                var rows = await conn.ExecuteAsync("select 1");
                Log.Info("read " + pool);
                return rows;
            }
        }
        """, """
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(Pool pool, Pool other)
            {
                Log.Info("waiting");
                var conn = await pool.GetConnectionAsync();
                try
                {
                    pool = other;
                    var rows = await conn.ExecuteAsync("select 1");
                    Log.Info("read " + pool);
                    return rows;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """);

    // A label between the task and its await: a goto back there awaits the same task again, which gives the same
    // connection; moved to the await, the call would take a second one. No fix moves it.
    [Fact]
    public Task Acquisition_awaited_later_after_a_label_is_not_moved_to_its_await() => NoFixVerifier.VerifyAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(Pool pool)
            {
                var pending = [|pool.GetConnectionAsync()|];
                var tries = 0;
                Log.Info("waiting");
            again:
                Log.Info("try " + tries);
                var conn = await pending;
                var rows = await conn.ExecuteAsync("select 1");
                if (rows == 0 && tries++ < 3)
                {
                    goto again;
                }

                conn.Release();
                return rows;
            }
        }
        """);

    // Never released: the fix that moves the acquisition to its await then adds the release (the analyzer found no
    // release on any path, so none is out of its sight).
    [Fact]
    public Task Acquisition_awaited_later_and_never_released_is_moved_to_its_await_and_released_in_finally() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(Pool pool)
            {
                var pending = [|pool.GetConnectionAsync()|];
                Log.Info("waiting");
                var conn = await pending;
                var rows = await conn.ExecuteAsync("select 1");
                Log.Info("read");
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
                Log.Info("waiting");
                var conn = await pool.GetConnectionAsync();
                try
                {
                    var rows = await conn.ExecuteAsync("select 1");
                    Log.Info("read");
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
    public Task Acquisition_awaited_later_into_an_await_using_is_only_moved_to_its_await() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(LeasePool pool)
            {
                var pending = [|pool.GetConnectionAsync("tenant-1")|];
                Log.Info("waiting");
                await using var lease = await pending;
                return await lease.ExecuteAsync("select 1");
            }
        }
        """, """
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(LeasePool pool)
            {
                Log.Info("waiting");
                await using var lease = await pool.GetConnectionAsync("tenant-1");
                return await lease.ExecuteAsync("select 1");
            }
        }
        """);

    [Fact]
    public Task ValueTask_acquisition_abandoned_on_cancellation_is_awaited_after_the_check() => Verify.VerifyCodeFixAsync("""
        using System.Threading;
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(LeasePool pool, CancellationToken ct)
            {
                var pending = [|pool.GetConnectionAsync("tenant-1")|];
                ct.ThrowIfCancellationRequested();
                var lease = await pending;
                var rows = await lease.ExecuteAsync("select 1");
                await lease.DisposeAsync();
                return rows;
            }
        }
        """, """
        using System.Threading;
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(LeasePool pool, CancellationToken ct)
            {
                ct.ThrowIfCancellationRequested();
                await using var lease = await pool.GetConnectionAsync("tenant-1");
                var rows = await lease.ExecuteAsync("select 1");
                return rows;
            }
        }
        """);

    /// <summary>An argument that does work of its own (a call): moved to the await, it would run after the statements between.</summary>
    [Theory]
    [InlineData("Tenants.Next()")]
    [InlineData("\"tenant-\" + Tenants.Next()")]
    [InlineData("tenants[Tenants.Next().Length]")]
    public Task Acquisition_whose_argument_does_work_is_not_moved_to_its_await(string argument)
    {
        var source = $$"""
            using System.Threading.Tasks;
            using Prelude;

            static class Tenants
            {
                private static int _next;

                public static string Next() => "tenant-" + ++_next;
            }

            class C
            {
                async Task<int> M(LeasePool pool, string[] tenants)
                {
                    var pending = [|pool.GetConnectionAsync({{argument}})|];
                    Log.Info("waiting");
                    var lease = await pending;
                    var rows = await lease.ExecuteAsync("select 1");
                    await lease.DisposeAsync();
                    return rows;
                }
            }
            """;
        return Verify.VerifyCodeFixAsync(source, source);
    }

    [Fact]
    public Task Acquisition_whose_task_is_awaited_after_a_statement_that_changes_its_argument_gets_no_fix()
    {
        const string source = """
            using System.Threading.Tasks;
            using Prelude;

            class C
            {
                async Task<int> M(LeasePool pool, string tenant)
                {
                    var pending = [|pool.GetConnectionAsync(tenant)|];
                    tenant = "other";
                    var lease = await pending;
                    var rows = await lease.ExecuteAsync("select 1");
                    await lease.DisposeAsync();
                    return rows + tenant.Length;
                }
            }
            """;
        return Verify.VerifyCodeFixAsync(source, source);
    }

    [Fact]
    public Task Connections_acquired_through_Task_WhenAll_are_released_in_finally() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(Pool pool)
            {
                var conns = await Task.WhenAll([|pool.GetConnectionAsync()|], [|pool.GetConnectionAsync()|]);
                var rows = await conns[0].ExecuteAsync("select 1") + await conns[1].ExecuteAsync("select 2");
                foreach (var conn in conns)
                {
                    conn.Release();
                }

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
                var acquisitions = new[] { pool.GetConnectionAsync(), pool.GetConnectionAsync() };
                try
                {
                    var conns = await Task.WhenAll(acquisitions);
                    var rows = await conns[0].ExecuteAsync("select 1") + await conns[1].ExecuteAsync("select 2");
                    return rows;
                }
                finally
                {
                    foreach (var acquisition in acquisitions)
                    {
                        if (acquisition.IsCompletedSuccessfully)
                        {
                            acquisition.Result.Release();
                        }
                    }
                }
            }
        }
        """);

    // The array's length is read, not a connection handed on: the fix is the same.
    [Fact]
    public Task Connections_acquired_through_Task_WhenAll_whose_count_is_read_are_released_in_finally() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(Pool pool)
            {
                var conns = await Task.WhenAll([|pool.GetConnectionAsync()|], [|pool.GetConnectionAsync()|]);
                var rows = conns.Length + await conns[0].ExecuteAsync("select 1");
                foreach (var conn in conns)
                {
                    conn.Release();
                }

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
                var acquisitions = new[] { pool.GetConnectionAsync(), pool.GetConnectionAsync() };
                try
                {
                    var conns = await Task.WhenAll(acquisitions);
                    var rows = conns.Length + await conns[0].ExecuteAsync("select 1");
                    return rows;
                }
                finally
                {
                    foreach (var acquisition in acquisitions)
                    {
                        if (acquisition.IsCompletedSuccessfully)
                        {
                            acquisition.Result.Release();
                        }
                    }
                }
            }
        }
        """);

    // A release of the code the fix would not take out (in a loop that does more, under a condition, through another
    // name, through 'dynamic') would give a connection back a second time in the finally: no fix.
    [Theory]
    [InlineData("foreach (var conn in conns) { rows += await conn.ExecuteAsync(\"select 1\"); conn.Release(); }")]
    [InlineData("if (rows > 0) { conns[0].Release(); } conns[1].Release();")]
    [InlineData("var first = conns[0]; rows += first.Execute(\"select 1\"); first.Release(); conns[1].Release();")]
    [InlineData("((dynamic)conns[0]).Release(); conns[1].Release();")]
    [InlineData("dynamic first = conns[0]; first.Release(); conns[1].Release();")]
    [InlineData("dynamic first = conns[0]; first?.Release(); conns[1].Release();")]
    [InlineData("using (dynamic first = conns[0]) { rows += first.Execute(\"select 1\"); } conns[1].Release();")]
    public Task Connections_acquired_through_Task_WhenAll_and_released_where_the_fix_cannot_take_the_release_out_get_no_fix(string releases) => NoFixVerifier.VerifyAsync($$"""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(Pool pool)
            {
                var conns = await Task.WhenAll([|pool.GetConnectionAsync()|], [|pool.GetConnectionAsync()|]);
                var rows = conns.Length;
                {{releases}}
                return rows;
            }
        }
        """);

    /// <summary>A connection and a command whose <c>Dispose</c> both come from one base type, and a pool of the connections.</summary>
    private const string SharedBaseTypes = """
        using System;
        using System.Threading.Tasks;

        abstract class Resource : IDisposable
        {
            public void Dispose()
            {
            }
        }

        sealed class Conn : Resource
        {
            public Task<int> ExecuteAsync(string sql) => Task.FromResult(1);
        }

        sealed class Cmd : Resource
        {
        }

        sealed class ConnPool
        {
            public async Task<Conn> GetConnectionAsync()
            {
                await Task.Yield();
                return new Conn();
            }
        }


        """;

    /// <summary>
    /// A release of something else whose method the connection's type shares (a command's <c>Dispose</c>, declared on a
    /// common base, as <c>Component</c> is for MySqlConnector's types) is not a release of a connection: the fix stays.
    /// </summary>
    [Fact]
    public Task Connections_acquired_through_Task_WhenAll_beside_a_command_disposed_through_a_shared_base_are_released_in_finally() => Verify.VerifyCodeFixAsync(SharedBaseTypes + """
        class C
        {
            async Task<int> M(ConnPool pool)
            {
                var conns = await Task.WhenAll([|pool.GetConnectionAsync()|], [|pool.GetConnectionAsync()|]);
                var cmd = new Cmd();
                cmd.Dispose();
                var rows = await conns[0].ExecuteAsync("select 1") + await conns[1].ExecuteAsync("select 2");
                foreach (var conn in conns)
                {
                    conn.Dispose();
                }

                return rows;
            }
        }
        """, SharedBaseTypes + """
        class C
        {
            async Task<int> M(ConnPool pool)
            {
                var acquisitions = new[] { pool.GetConnectionAsync(), pool.GetConnectionAsync() };
                try
                {
                    var conns = await Task.WhenAll(acquisitions);
                    var cmd = new Cmd();
                    cmd.Dispose();
                    var rows = await conns[0].ExecuteAsync("select 1") + await conns[1].ExecuteAsync("select 2");
                    return rows;
                }
                finally
                {
                    foreach (var acquisition in acquisitions)
                    {
                        if (acquisition.IsCompletedSuccessfully)
                        {
                            acquisition.Result.Dispose();
                        }
                    }
                }
            }
        }
        """, execution: Execution.Skip("The check counts the Prelude's connections; these are the test's own types (a base that a connection and a command share), which it does not see."));

    /// <summary>A connection released through a reference of the shared base's type is a connection's release: no fix.</summary>
    [Theory]
    [InlineData("Resource first = conns[0]; first.Dispose();")]
    [InlineData("((Resource)conns[0]).Dispose();")]
    [InlineData("((Resource)conns[0])?.Dispose();")]
    public Task Connections_acquired_through_Task_WhenAll_and_released_through_their_base_type_get_no_fix(string release) => NoFixVerifier.VerifyAsync(SharedBaseTypes + $$"""
        class C
        {
            async Task<int> M(ConnPool pool)
            {
                var conns = await Task.WhenAll([|pool.GetConnectionAsync()|], [|pool.GetConnectionAsync()|]);
                var rows = await conns[0].ExecuteAsync("select 1");
                {{release}}
                conns[1].Dispose();
                return rows;
            }
        }
        """);

    /// <summary>
    /// After the region the fix wraps, a member of the same name as a local of the region (<c>this.rows</c>) is not that
    /// local: the fix is offered, and the code after the <c>try</c> still names the field.
    /// </summary>
    [Fact]
    public Task Connections_acquired_through_Task_WhenAll_beside_a_field_named_as_a_local_are_released_in_finally() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            private int rows;

            async Task<int> M(Pool pool)
            {
                var conns = await Task.WhenAll([|pool.GetConnectionAsync()|], [|pool.GetConnectionAsync()|]);
                var rows = await conns[0].ExecuteAsync("select 1");
                if (rows > 0)
                {
                    var extra = await conns[1].ExecuteAsync("select 2");
                    rows += extra;
                }

                foreach (var conn in conns)
                {
                    conn.Release();
                }

                this.rows = rows;
                return this.rows;
            }
        }
        """, """
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            private int rows;

            async Task<int> M(Pool pool)
            {
                var acquisitions = new[] { pool.GetConnectionAsync(), pool.GetConnectionAsync() };
                try
                {
                    var conns = await Task.WhenAll(acquisitions);
                    var rows = await conns[0].ExecuteAsync("select 1");
                    if (rows > 0)
                    {
                        var extra = await conns[1].ExecuteAsync("select 2");
                        rows += extra;
                    }

                    this.rows = rows;
                }
                finally
                {
                    foreach (var acquisition in acquisitions)
                    {
                        if (acquisition.IsCompletedSuccessfully)
                        {
                            acquisition.Result.Release();
                        }
                    }
                }

                return this.rows;
            }
        }
        """);

    [Fact]
    public Task Connections_acquired_through_Task_WhenAll_and_released_by_index_are_released_in_finally() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(Pool pool)
            {
                var conns = await Task.WhenAll([|pool.GetConnectionAsync()|], [|pool.GetConnectionAsync()|]);
                var rows = await conns[0].ExecuteAsync("select 1") + await conns[1].ExecuteAsync("select 2");
                conns[1].Execute("analyze table orders");
                conns[0].Release();
                conns[1].Release();
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
                var acquisitions = new[] { pool.GetConnectionAsync(), pool.GetConnectionAsync() };
                try
                {
                    var conns = await Task.WhenAll(acquisitions);
                    var rows = await conns[0].ExecuteAsync("select 1") + await conns[1].ExecuteAsync("select 2");
                    conns[1].Execute("analyze table orders");
                    return rows;
                }
                finally
                {
                    foreach (var acquisition in acquisitions)
                    {
                        if (acquisition.IsCompletedSuccessfully)
                        {
                            acquisition.Result.Release();
                        }
                    }
                }
            }
        }
        """);

    [Fact]
    public Task Connections_acquired_through_Task_WhenAll_keep_a_call_by_index_that_is_no_release() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using Prelude;

        static class Warming
        {
            public static void Warm(this PooledConnection connection)
            {
            }
        }

        class C
        {
            async Task<int> M(Pool pool)
            {
                var conns = await Task.WhenAll([|pool.GetConnectionAsync()|], [|pool.GetConnectionAsync()|]);
                conns[1].Warm();
                var rows = await conns[0].ExecuteAsync("select 1") + await conns[1].ExecuteAsync("select 2");
                conns[0].Release();
                conns[1].Release();
                return rows;
            }
        }
        """, """
        using System.Threading.Tasks;
        using Prelude;

        static class Warming
        {
            public static void Warm(this PooledConnection connection)
            {
            }
        }

        class C
        {
            async Task<int> M(Pool pool)
            {
                var acquisitions = new[] { pool.GetConnectionAsync(), pool.GetConnectionAsync() };
                try
                {
                    var conns = await Task.WhenAll(acquisitions);
                    conns[1].Warm();
                    var rows = await conns[0].ExecuteAsync("select 1") + await conns[1].ExecuteAsync("select 2");
                    return rows;
                }
                finally
                {
                    foreach (var acquisition in acquisitions)
                    {
                        if (acquisition.IsCompletedSuccessfully)
                        {
                            acquisition.Result.Release();
                        }
                    }
                }
            }
        }
        """);

    [Fact]
    public Task Connections_acquired_through_Task_WhenAll_with_a_local_of_a_nested_block_are_released_in_finally() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(Pool pool, bool twice)
            {
                var conns = await Task.WhenAll([|pool.GetConnectionAsync()|], [|pool.GetConnectionAsync()|]);
                var rows = await conns[0].ExecuteAsync("select 1");
                if (twice)
                {
                    var more = await conns[1].ExecuteAsync("select 2");
                    rows += more;
                }

                foreach (var conn in conns)
                {
                    conn.Release();
                }

                Log.Info("done");
                return rows;
            }
        }
        """, """
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(Pool pool, bool twice)
            {
                var acquisitions = new[] { pool.GetConnectionAsync(), pool.GetConnectionAsync() };
                try
                {
                    var conns = await Task.WhenAll(acquisitions);
                    var rows = await conns[0].ExecuteAsync("select 1");
                    if (twice)
                    {
                        var more = await conns[1].ExecuteAsync("select 2");
                        rows += more;
                    }

                    Log.Info("done");
                    return rows;
                }
                finally
                {
                    foreach (var acquisition in acquisitions)
                    {
                        if (acquisition.IsCompletedSuccessfully)
                        {
                            acquisition.Result.Release();
                        }
                    }
                }
            }
        }
        """);

    // The work before the acquisitions and after their last use stays out of the try.
    [Fact]
    public Task Connections_acquired_through_Task_WhenAll_after_other_work_are_released_in_finally_that_covers_only_their_uses() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task M(Pool pool)
            {
                Log.Info("start");
                Log.Info("acquiring");
                var conns = await Task.WhenAll([|pool.GetConnectionAsync()|], [|pool.GetConnectionAsync()|]);
                await conns[0].ExecuteAsync("select 1");
                foreach (var conn in conns)
                {
                    conn.Release();
                }

                Log.Info("done");
                Log.Info("exiting");
                Log.Info("gone");
            }
        }
        """, """
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task M(Pool pool)
            {
                Log.Info("start");
                Log.Info("acquiring");
                var acquisitions = new[] { pool.GetConnectionAsync(), pool.GetConnectionAsync() };
                try
                {
                    var conns = await Task.WhenAll(acquisitions);
                    await conns[0].ExecuteAsync("select 1");
                }
                finally
                {
                    foreach (var acquisition in acquisitions)
                    {
                        if (acquisition.IsCompletedSuccessfully)
                        {
                            acquisition.Result.Release();
                        }
                    }
                }

                Log.Info("done");
                Log.Info("exiting");
                Log.Info("gone");
            }
        }
        """);

    // ---------------------------------------------------------------- expression-bodied members

    // The new block's lines end as the file's do (a CRLF file from Windows keeps CRLF).
    [Theory]
    [InlineData("\n")]
    [InlineData("\r\n")]
    public Task Acquisition_in_an_expression_bodied_method_gets_a_block_body(string lineEnd) => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool) => [|pool.GetConnection()|].Execute("delete from sessions");
        }
        """.ReplaceLineEndings(lineEnd), """
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var connection = pool.GetConnection();
                try
                {
                    return connection.Execute("delete from sessions");
                }
                finally
                {
                    connection.Release();
                }
            }
        }
        """.ReplaceLineEndings(lineEnd));

    // An 'await using' awaits its DisposeAsync on the captured context: in a function whose awaits use
    // ConfigureAwait(false) (library code, where a caller may block on the task) the fix keeps to it and releases in
    // 'finally'; elsewhere it writes the 'await using'.
    [Theory]
    [InlineData(".ConfigureAwait(false)", """
        var connection = await dataSource.OpenConnectionAsync().ConfigureAwait(false);
                try
                {
                    return await connection.ExecuteScalarAsync<int>("select 1").ConfigureAwait(false);
                }
                finally
                {
                    await connection.DisposeAsync().ConfigureAwait(false);
                }
        """)]
    [InlineData("", """
        await using var connection = await dataSource.OpenConnectionAsync();
                return await connection.ExecuteScalarAsync<int>("select 1");
        """)]
    public Task Async_expression_bodied_method_keeps_its_ConfigureAwait_false_on_the_dispose(string configure, string body) => Verify.VerifyCodeFixAsync($$"""
        using System.Threading.Tasks;
        using Dapper;
        using MySqlConnector;

        class C
        {
            async Task<int> M(MySqlDataSource dataSource) => await (await [|dataSource.OpenConnectionAsync()|]{{configure}}).ExecuteScalarAsync<int>("select 1"){{configure}};
        }
        """, $$"""
        using System.Threading.Tasks;
        using Dapper;
        using MySqlConnector;

        class C
        {
            async Task<int> M(MySqlDataSource dataSource)
            {
                {{body}}
            }
        }
        """);

    [Theory]
    [InlineData(".ConfigureAwait(false)", """await (await dataSource.OpenConnectionAsync().ConfigureAwait(false)).DisposeAsync().ConfigureAwait(false);""")]
    [InlineData("", """
        await using (await dataSource.OpenConnectionAsync())
                {
                }
        """)]
    public Task Discarded_async_connection_keeps_the_function_s_ConfigureAwait_false_on_the_dispose(string configure, string fixedStatement) => Verify.VerifyCodeFixAsync($$"""
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            async Task M(MySqlDataSource dataSource)
            {
                await [|dataSource.OpenConnectionAsync()|]{{configure}};
            }
        }
        """, $$"""
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            async Task M(MySqlDataSource dataSource)
            {
                {{fixedStatement}}
            }
        }
        """);

    // ---------------------------------------------------------------- line ends

    // The shape of a CRLF file from a real code base: a directive first, XML documentation on the method.
    [Fact]
    public Task A_fix_in_a_CRLF_file_with_a_directive_and_documentation_writes_CRLF() => Verify.VerifyCodeFixAsync("""
        #nullable enable
        using Prelude;

        class C
        {
            /// <summary>Deletes the sessions.</summary>
            /// <returns>How many.</returns>
            int M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                var rows = conn.Execute("delete from sessions");
                conn.Release();
                return rows;
            }
        }
        """.ReplaceLineEndings("\r\n"), """
        #nullable enable
        using Prelude;

        class C
        {
            /// <summary>Deletes the sessions.</summary>
            /// <returns>How many.</returns>
            int M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    var rows = conn.Execute("delete from sessions");
                    return rows;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """.ReplaceLineEndings("\r\n"), ReleaseInFinally);

    // A file of mixed line ends: the fix writes its lines as the line where the code it rewrites starts ends (here LF),
    // and leaves every other line as it was.
    [Fact]
    public Task A_fix_in_a_file_of_mixed_line_ends_leaves_the_lines_it_did_not_write_as_they_were() => Verify.VerifyCodeFixAsync(
        "using Prelude;\n\nclass C\n{\n    int Other() => 1;\r\n\n    int M(Pool pool)\n    {\n        var conn = [|pool.GetConnection()|];\n        var rows = conn.Execute(\"select 1\");\n        conn.Release();\n        return rows;\n    }\n}\n",
        "using Prelude;\n\nclass C\n{\n    int Other() => 1;\r\n\n    int M(Pool pool)\n    {\n        var conn = pool.GetConnection();\n        try\n        {\n            var rows = conn.Execute(\"select 1\");\n            return rows;\n        }\n        finally\n        {\n            conn.Release();\n        }\n    }\n}\n",
        ReleaseInFinally);

    // A method written with CRLF in a file whose first lines end with LF (code pasted from elsewhere): the method's
    // lines keep CRLF, those the fix writes too, also the line break before a try that starts after a statement on
    // the acquisition's line.
    [Fact]
    public Task A_fix_in_a_CRLF_method_of_a_file_that_starts_with_LF_writes_and_keeps_CRLF() => Verify.VerifyCodeFixAsync(
        "using Prelude;\n\nclass C\n{\r\n    int M(Pool pool)\r\n    {\r\n        Log.Info(\"start\"); var conn = [|pool.GetConnection()|];\r\n        var rows = conn.Execute(\"select 1\");\r\n        conn.Release();\r\n        return rows;\r\n    }\r\n}\r\n",
        "using Prelude;\n\nclass C\n{\r\n    int M(Pool pool)\r\n    {\r\n        Log.Info(\"start\"); var conn = pool.GetConnection();\r\n        try\r\n        {\r\n            var rows = conn.Execute(\"select 1\");\r\n            return rows;\r\n        }\r\n        finally\r\n        {\r\n            conn.Release();\r\n        }\r\n    }\r\n}\r\n",
        ReleaseInFinally);

    [Fact]
    public Task The_blank_line_after_a_try_in_a_CRLF_method_of_a_file_that_starts_with_LF_ends_with_CRLF() => Verify.VerifyCodeFixAsync(
        "using Prelude;\n\nclass C\n{\r\n    int M(Pool pool)\r\n    {\r\n        var conn = [|pool.GetConnection()|];\r\n        var rows = conn.Execute(\"select 1\");\r\n        conn.Release();\r\n        Log.Info(\"done\");\r\n        return rows;\r\n    }\r\n}\r\n",
        "using Prelude;\n\nclass C\n{\r\n    int M(Pool pool)\r\n    {\r\n        var conn = pool.GetConnection();\r\n        int rows;\r\n        try\r\n        {\r\n            rows = conn.Execute(\"select 1\");\r\n        }\r\n        finally\r\n        {\r\n            conn.Release();\r\n        }\r\n\r\n        Log.Info(\"done\");\r\n        return rows;\r\n    }\r\n}\r\n",
        ReleaseInFinally);

    // A file of mixed line ends whose last line has none: the block the fix writes on that line ends its lines as the
    // file's first line does.
    [Fact]
    public Task A_block_body_written_on_a_last_line_without_a_line_end_takes_the_first_line_s() => Verify.VerifyCodeFixAsync(
        "using Prelude;\r\n\r\nclass Other\n{\n}\r\n\r\nclass C { int M(Pool pool) => [|pool.GetConnection()|].Execute(\"delete from sessions\"); }",
        "using Prelude;\r\n\r\nclass Other\n{\n}\r\n\r\nclass C {\n    int M(Pool pool)\r\n    {\r\n        var connection = pool.GetConnection();\r\n        try\r\n        {\r\n            return connection.Execute(\"delete from sessions\");\r\n        }\r\n        finally\r\n        {\r\n            connection.Release();\r\n        }\r\n    }\r\n}");

    [Fact]
    public Task Fix_All_in_a_file_with_CRLF_line_ends_writes_CRLF() => Verify.VerifyFixAllAsync(
        ["""
        using Prelude;

        class C
        {
            int M(Pool a, Pool b)
            {
                var first = [|a.GetConnection()|];
                var rows = first.Execute("select 1");
                first.Release();
                var second = [|b.GetConnection()|];
                rows += second.Execute("select 2");
                second.Release();
                return rows;
            }
        }
        """.ReplaceLineEndings("\r\n")],
        ["""
        using Prelude;

        class C
        {
            int M(Pool a, Pool b)
            {
                var first = a.GetConnection();
                int rows;
                try
                {
                    rows = first.Execute("select 1");
                }
                finally
                {
                    first.Release();
                }

                var second = b.GetConnection();
                try
                {
                    rows += second.Execute("select 2");
                }
                finally
                {
                    second.Release();
                }

                return rows;
            }
        }
        """.ReplaceLineEndings("\r\n")]);

    // A source of one line has no line end to copy: the new block's lines end as C# files usually do.
    [Fact]
    public Task Acquisition_in_an_expression_bodied_method_of_a_one_line_file_gets_a_block_body() => Verify.VerifyCodeFixAsync(
        "using Prelude; class C { int M(Pool pool) => [|pool.GetConnection()|].Execute(\"delete from sessions\"); }",
        "using Prelude; class C {\n    int M(Pool pool)\n    {\n        var connection = pool.GetConnection();\n        try\n        {\n            return connection.Execute(\"delete from sessions\");\n        }\n        finally\n        {\n            connection.Release();\n        }\n    }\n}");

    // The statements after the try shared the line of the last one it took in: they start a line of their own, after
    // a blank line.
    [Fact]
    public Task Statements_on_the_line_of_the_last_one_the_try_takes_in_start_a_line_after_a_blank_one() => Verify.VerifyCodeFixAsync(
        "using Prelude; class C { int M(Pool pool) { var conn = [|pool.GetConnection()|]; var rows = conn.Execute(\"select 1\"); conn.Release(); Log.Info(\"done\"); return rows; } }",
        "using Prelude; class C { int M(Pool pool)\n    {\n        var conn = pool.GetConnection(); int rows;\n        try\n        {\n            rows = conn.Execute(\"select 1\");\n        }\n        finally\n        {\n            conn.Release();\n        }\n\n        Log.Info(\"done\"); return rows;\n    }\n}",
        ReleaseInFinally);

    [Fact]
    public Task Lease_in_a_lambda_of_a_one_line_file_gets_a_block_body_with_a_using() => Verify.VerifyCodeFixAsync(
        "using Prelude; class C { int M(LeasePool pool) { System.Func<int> count = () => [|pool.GetConnection()|].Execute(\"select 1\"); return count(); } }",
        "using Prelude; class C { int M(LeasePool pool) { System.Func<int> count = () =>\n{\n    using var connection = pool.GetConnection();\n    return connection.Execute(\"select 1\");\n}; return count(); } }", UseUsing);

    // The using is the lease's fix; a finally besides it would be a second way to write the same thing.
    [Fact]
    public Task Lease_in_an_expression_bodied_method_gets_a_using_and_no_finally()
    {
        var source = """
            using Prelude;

            class C
            {
                int M(LeasePool pool) => [|pool.GetConnection()|].Execute("delete from sessions");
            }
            """;
        return Verify.VerifyCodeFixAsync(source, source, ReleaseInFinally);
    }

    [Fact]
    public Task Lease_in_an_expression_bodied_method_of_a_one_line_file_gets_a_block_body_with_a_using() => Verify.VerifyCodeFixAsync(
        "using Prelude; class C { int M(LeasePool pool) => [|pool.GetConnection()|].Execute(\"delete from sessions\"); }",
        "using Prelude; class C {\n    int M(LeasePool pool)\n    {\n        using var connection = pool.GetConnection();\n        return connection.Execute(\"delete from sessions\");\n    }\n}", UseUsing);

    [Fact]
    public Task Acquisition_in_an_expression_bodied_property_gets_a_getter_with_a_block_body() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            private readonly LeasePool _pool = new LeasePool();

            int SessionCount => [|_pool.GetConnection()|].Execute("select count(*) from sessions");
        }
        """, """
        using Prelude;

        class C
        {
            private readonly LeasePool _pool = new LeasePool();

            int SessionCount
            {
                get
                {
                    using var connection = _pool.GetConnection();
                    return connection.Execute("select count(*) from sessions");
                }
            }
        }
        """);

    [Fact]
    public Task Acquisition_in_an_expression_bodied_async_method_gets_a_block_body_with_await_using() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(LeasePool pool) => await (await [|pool.GetConnectionAsync("tenant-1")|]).ExecuteAsync("select 1");
        }
        """, """
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(LeasePool pool)
            {
                await using var connection = await pool.GetConnectionAsync("tenant-1");
                return await connection.ExecuteAsync("select 1");
            }
        }
        """);

    [Fact]
    public Task Discarded_acquisition_of_a_type_with_no_release_in_an_expression_body_gets_no_fix() => NoFixVerifier.VerifyAsync("""
        sealed class LegacyConnection
        {
            public int Execute(string sql) => 0;
        }

        sealed class LegacyPool
        {
            public LegacyConnection Rent() => new LegacyConnection();
        }

        class C
        {
            void Warm(LegacyPool pool) => [|pool.Rent()|];

            System.Action Later(LegacyPool pool) => () => [|pool.Rent()|];
        }
        """);

    [Fact]
    public Task Discarded_acquisition_in_an_expression_bodied_void_method_is_released() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            void WarmUp(Pool pool) => [|pool.GetConnection()|].Execute("select 1");
        }
        """, """
        using Prelude;

        class C
        {
            void WarmUp(Pool pool)
            {
                var connection = pool.GetConnection();
                try
                {
                    connection.Execute("select 1");
                }
                finally
                {
                    connection.Release();
                }
            }
        }
        """);

    [Theory]
    [InlineData("Task")]
    [InlineData("ValueTask")]
    public Task Discarded_acquisition_in_an_expression_bodied_async_method_that_returns_no_value_is_released(string type) => Verify.VerifyCodeFixAsync($$"""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async {{type}} WarmUpAsync(Pool pool) => await [|pool.GetConnectionAsync()|];
        }
        """, $$"""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async {{type}} WarmUpAsync(Pool pool)
            {
                (await pool.GetConnectionAsync()).Release();
            }
        }
        """);

    // The discarded connection's own fix is the only one: the body has no value to give a local, and a 'try' around
    // the bare name would not compile.
    [Theory]
    [InlineData("void WarmUp(Pool pool) => [|pool.GetConnection()|];")]
    [InlineData("async System.Threading.Tasks.Task WarmUpAsync(Pool pool) => await [|pool.GetConnectionAsync()|];")]
    [InlineData("void WarmUp(Pool pool) { System.Action warm = () => [|pool.GetConnection()|]; warm(); }")]
    public Task Discarded_acquisition_as_the_whole_body_of_a_member_is_offered_only_its_release(string member) =>
        NoFixVerifier.VerifyOnlyAsync("using Prelude;\n\nclass C\n{\n    " + member + "\n}\n", ["Release the discarded connection"]);

    [Fact]
    public Task Discarded_acquisition_as_the_whole_body_of_a_void_method_is_released() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            void WarmUp(Pool pool) => [|pool.GetConnection()|];
        }
        """, """
        using Prelude;

        class C
        {
            void WarmUp(Pool pool)
            {
                pool.GetConnection().Release();
            }
        }
        """);

    // ---------------------------------------------------------------- conditional acquisitions

    // A release the code writes without '?.' (under its own null check) is written with one in the finally, which is
    // reached with no connection too.
    [Theory]
    [InlineData("c?.Release();")]
    [InlineData("if (c != null)\n        {\n            c.Release();\n        }")]
    [InlineData("if (c is not null) c.Release();")]
    public Task Conditional_acquisition_is_released_with_a_null_check_in_finally(string release) => Verify.VerifyCodeFixAsync($$"""
        using Prelude;

        class C
        {
            int M(Pool pool, bool flag)
            {
                var c = flag ? [|pool.GetConnection()|] : null;
                var rows = c?.Execute("select 1") ?? 0;
                {{release}}
                return rows;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool, bool flag)
            {
                var c = flag ? pool.GetConnection() : null;
                try
                {
                    var rows = c?.Execute("select 1") ?? 0;
                    return rows;
                }
                finally
                {
                    c?.Release();
                }
            }
        }
        """);

    [Fact]
    public Task Conditional_lease_becomes_using_which_skips_null() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(LeasePool pool, bool flag)
            {
                var lease = flag ? [|pool.GetConnection()|] : null;
                return lease?.Execute("select 1") ?? 0;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(LeasePool pool, bool flag)
            {
                using var lease = flag ? pool.GetConnection() : null;
                return lease?.Execute("select 1") ?? 0;
            }
        }
        """);

    [Fact]
    public Task Lease_taken_in_each_iteration_and_released_after_the_loop_is_released_in_each_iteration_and_the_release_after_goes_with_its_comment() => Verify.VerifyCodeFixAsync("""
        using System.Collections.Generic;
        using Prelude;

        class C
        {
            void M(Pool pool, IEnumerable<string> tenants)
            {
                PooledConnection conn = null;
                foreach (var tenant in tenants)
                {
                    conn = [|pool.GetConnection()|];
                    conn.Execute("use " + tenant);
                }

                // Only the last one is still held here.
                conn?.Release();
                Log.Info("done");
            }
        }
        """, """
        using System.Collections.Generic;
        using Prelude;

        class C
        {
            void M(Pool pool, IEnumerable<string> tenants)
            {
                PooledConnection conn = null;
                foreach (var tenant in tenants)
                {
                    conn = pool.GetConnection();
                    try
                    {
                        conn.Execute("use " + tenant);
                    }
                    finally
                    {
                        conn.Release();
                    }
                }

                Log.Info("done");
            }
        }
        """);

    [Fact]
    public Task Lease_taken_in_each_iteration_of_a_loop_that_opens_its_block_and_released_right_after_it_is_released_in_each_iteration() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, int[] tenants, bool flag)
            {
                var total = 0;
                PooledConnection conn = null;
                if (flag)
                {
                    foreach (var tenant in tenants)
                    {
                        conn = [|pool.GetConnection()|];
                        total += conn.Execute("select 1");
                    }
                    conn?.Release();
                }
                return total;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool, int[] tenants, bool flag)
            {
                var total = 0;
                PooledConnection conn = null;
                if (flag)
                {
                    foreach (var tenant in tenants)
                    {
                        conn = pool.GetConnection();
                        try
                        {
                            total += conn.Execute("select 1");
                        }
                        finally
                        {
                            conn.Release();
                        }
                    }
                }
                return total;
            }
        }
        """);

    // A lease taken in each iteration of a loop, each one but the last left to the collector, and what the fix makes of it.
    private const string TakenInEachIteration = """
        using System.Collections.Generic;
        using Prelude;

        class C
        {
            void M(Pool pool, IEnumerable<string> tenants, bool quiet)
            {
                PooledConnection conn = null;
                foreach (var tenant in tenants)
                {
                    conn = [|pool.GetConnection()|];
                    conn.Execute("use " + tenant);
                }


        """;

    private const string ReleasedInEachIteration = """
        using System.Collections.Generic;
        using Prelude;

        class C
        {
            void M(Pool pool, IEnumerable<string> tenants, bool quiet)
            {
                PooledConnection conn = null;
                foreach (var tenant in tenants)
                {
                    conn = pool.GetConnection();
                    try
                    {
                        conn.Execute("use " + tenant);
                    }
                    finally
                    {
                        conn.Release();
                    }
                }


        """;

    [Fact]
    public Task Lease_taken_in_each_iteration_and_released_on_both_branches_after_the_loop_is_released_in_each_iteration() => Verify.VerifyCodeFixAsync(TakenInEachIteration + """
                if (quiet)
                {
                    conn?.Release();
                }
                else
                {
                    Log.Info("done");
                    conn?.Release();
                }
            }
        }
        """, ReleasedInEachIteration + """
                if (!quiet)
                {
                    Log.Info("done");
                }
            }
        }
        """);

    [Fact]
    public Task Lease_taken_in_each_iteration_and_released_in_an_else_after_the_loop_is_released_in_each_iteration() => Verify.VerifyCodeFixAsync(TakenInEachIteration + """
                if (!quiet)
                {
                    Log.Info("done");
                }
                // Quiet: give it back at once.
                else
                {
                    conn?.Release();
                }

                Log.Info("end");
            }
        }
        """, ReleasedInEachIteration + """
                if (!quiet)
                {
                    Log.Info("done");
                }

                Log.Info("end");
            }
        }
        """);

    [Fact]
    public Task Acquisition_assigned_in_a_branch_and_used_after_it_is_released_after_the_last_use() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, bool flag)
            {
                PooledConnection conn = null;
                if (flag)
                {
                    conn = [|pool.GetConnection()|];
                    conn.Execute("set names utf8mb4");
                }

                Log.Info("ready");
                var rows = conn?.Execute("select 1") ?? 0;
                conn?.Release();
                return rows;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool, bool flag)
            {
                PooledConnection conn = null;
                try
                {
                    if (flag)
                    {
                        conn = pool.GetConnection();
                        conn.Execute("set names utf8mb4");
                    }

                    Log.Info("ready");
                    var rows = conn?.Execute("select 1") ?? 0;
                    return rows;
                }
                finally
                {
                    conn?.Release();
                }
            }
        }
        """);

    // ---------------------------------------------------------------- types and names

    // A type parameter is disposable when one of its constraints is (here the DbConnection, not the marker interface).
    [Theory]
    [InlineData("DbConnection, new()")]
    [InlineData("DbConnection, ITenantScoped, new()")]
    public Task Generic_connection_type_becomes_await_using(string constraints) => Verify.VerifyCodeFixAsync("""
        using System;
        using System.Data.Common;
        using System.Threading.Tasks;

        interface ITenantScoped
        {
        }

        class C
        {
            async Task<int> M<TConnection>(string connectionString) where TConnection : CONSTRAINTS
            {
                var conn = new TConnection { ConnectionString = connectionString };
                await [|conn.OpenAsync()|];
                var command = conn.CreateCommand();
                command.CommandText = "select count(*) from customers";
                var count = Convert.ToInt32(await command.ExecuteScalarAsync());
                await conn.CloseAsync();
                return count;
            }
        }
        """.Replace("CONSTRAINTS", constraints), """
        using System;
        using System.Data.Common;
        using System.Threading.Tasks;

        interface ITenantScoped
        {
        }

        class C
        {
            async Task<int> M<TConnection>(string connectionString) where TConnection : CONSTRAINTS
            {
                await using var conn = new TConnection { ConnectionString = connectionString };
                await conn.OpenAsync();
                var command = conn.CreateCommand();
                command.CommandText = "select count(*) from customers";
                var count = Convert.ToInt32(await command.ExecuteScalarAsync());
                return count;
            }
        }
        """.Replace("CONSTRAINTS", constraints), UseUsing, constraints.Contains("ITenantScoped", StringComparison.Ordinal) ? Execution.Skip("No type of the check fits both constraints; the first row runs the same fixed code.") : null);

    [Theory]
    [InlineData("DbConnection, new()")]
    [InlineData("DbConnection, ITenantScoped, new()")]
    public Task Generic_connection_type_can_be_closed_in_finally_instead(string constraints) => Verify.VerifyCodeFixAsync("""
        using System;
        using System.Data.Common;

        interface ITenantScoped
        {
        }

        class C
        {
            int M<TConnection>(string connectionString) where TConnection : CONSTRAINTS
            {
                var conn = new TConnection { ConnectionString = connectionString };
                [|conn.Open()|];
                var command = conn.CreateCommand();
                command.CommandText = "select count(*) from customers";
                return Convert.ToInt32(command.ExecuteScalar());
            }
        }
        """.Replace("CONSTRAINTS", constraints), """
        using System;
        using System.Data.Common;

        interface ITenantScoped
        {
        }

        class C
        {
            int M<TConnection>(string connectionString) where TConnection : CONSTRAINTS
            {
                var conn = new TConnection { ConnectionString = connectionString };
                conn.Open();
                try
                {
                    var command = conn.CreateCommand();
                    command.CommandText = "select count(*) from customers";
                    return Convert.ToInt32(command.ExecuteScalar());
                }
                finally
                {
                    conn.Dispose();
                }
            }
        }
        """.Replace("CONSTRAINTS", constraints), ReleaseInFinally, constraints.Contains("ITenantScoped", StringComparison.Ordinal) ? Execution.Skip("No type of the check fits both constraints; the first row runs the same fixed code.") : null);

    // The analyzer does not take 'if (x is IDisposable d) d.Dispose()' for a release yet and still reports the fixed code;
    // the fix does, and offers nothing more there.
    [Fact]
    public Task Release_through_an_IDisposable_pattern_moves_into_finally() => Verify.VerifyCodeFixAsync("""
        using System;
        using Prelude;

        class C
        {
            int M(LeasePool pool)
            {
                object x = [|pool.GetConnection()|];
                var rows = ((ConnectionLease)x).Execute("select 1");
                if (x is IDisposable d) d.Dispose();
                return rows;
            }
        }
        """, """
        using System;
        using Prelude;

        class C
        {
            int M(LeasePool pool)
            {
                object x = pool.GetConnection();
                try
                {
                    var rows = ((ConnectionLease)x).Execute("select 1");
                    return rows;
                }
                finally
                {
                    if (x is IDisposable d) d.Dispose();
                }
            }
        }
        """);

    [Fact]
    public Task Local_whose_name_starts_with_a_capital_letter_has_its_release_moved_like_any_other() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var Conn = [|pool.GetConnection()|];
                var rows = Conn.Execute("delete from sessions");
                Conn.Release();
                return rows;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var Conn = pool.GetConnection();
                try
                {
                    var rows = Conn.Execute("delete from sessions");
                    return rows;
                }
                finally
                {
                    Conn.Release();
                }
            }
        }
        """);

    [Fact]
    public Task Configured_release_is_chosen_for_a_discarded_connection() => Verify.VerifyCodeFixWithEditorConfigAsync("""
        using Prelude;

        sealed class LegacyConnection
        {
            private readonly PooledConnection _inner = new Pool().GetConnection();

            public int Execute(string sql) => _inner.Execute(sql);
            public void GiveBack() => _inner.Release();
        }

        sealed class LegacyPool
        {
            public LegacyConnection Rent() => new LegacyConnection();
        }

        class C
        {
            void M(LegacyPool pool)
            {
                [|pool.Rent()|].Execute("delete from queue where done = 1");
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

        sealed class LegacyPool
        {
            public LegacyConnection Rent() => new LegacyConnection();
        }

        class C
        {
            void M(LegacyPool pool)
            {
                var connection = pool.Rent();
                try
                {
                    connection.Execute("delete from queue where done = 1");
                }
                finally
                {
                    connection.GiveBack();
                }
            }
        }
        """, "tenantdbguard.acquire_methods = LegacyPool.Rent\ntenantdbguard.release_methods = GiveBack\n");

    [Fact]
    public Task Release_written_with_a_null_forgiving_operator_moves_into_finally_instead_of_staying_beside_it() => Verify.VerifyCodeFixAsync("""
        #nullable enable
        using System;
        using Prelude;

        class C
        {
            int M(Pool pool, bool fail)
            {
                PooledConnection? conn = [|pool.GetConnection()|];
                var n = conn!.Execute("select 1");
                if (fail)
                {
                    throw new InvalidOperationException("x");
                }

                conn!.Release();
                return n;
            }
        }
        """, """
        #nullable enable
        using System;
        using Prelude;

        class C
        {
            int M(Pool pool, bool fail)
            {
                PooledConnection? conn = pool.GetConnection();
                try
                {
                    var n = conn!.Execute("select 1");
                    if (fail)
                    {
                        throw new InvalidOperationException("x");
                    }

                    return n;
                }
                finally
                {
                    conn!.Release();
                }
            }
        }
        """, ReleaseInFinally);

    // ---------------------------------------------------------------- retry loops

    [Fact]
    public Task Retry_that_disposes_and_acquires_again_in_catch_keeps_that_dispose() => Verify.VerifyCodeFixAsync("""
            using System;
            using Prelude;

            class C
            {
                int M(LeasePool pool)
                {
                    var lease = [|pool.GetConnection()|];
                    for (var attempt = 0; ; attempt++)
                    {
                        try
                        {
                            return lease.Execute("select 1");
                        }
                        catch (Exception) when (attempt < 2)
                        {
                            lease.Dispose();
                            lease = [|pool.GetConnection()|];
                        }
                    }
                }
            }
            """, """
            using System;
            using Prelude;

            class C
            {
                int M(LeasePool pool)
                {
                    var lease = pool.GetConnection();
                    try
                    {
                        for (var attempt = 0; ; attempt++)
                        {
                            try
                            {
                                return lease.Execute("select 1");
                            }
                            catch (Exception) when (attempt < 2)
                            {
                                lease.Dispose();
                                lease = pool.GetConnection();
                            }
                        }
                    }
                    finally
                    {
                        lease.Dispose();
                    }
                }
            }
            """);

    // ---------------------------------------------------------------- work that runs before the acquisition

    private const string WorkBefore = """
        using System;
        using Prelude;

        class Audit
        {
            public int Count;
            public int Stamp() => ++Count;
        }

        class Report
        {
            public Report(Audit audit) => audit.Stamp();
            public int Rows { get; set; }
        }

        class C
        {
            static int Add(int first, int second) => first + second;

            int M(LeasePool pool, Audit audit, int[] totals)
            {
                STATEMENT
            }
        }
        """;

    [Theory]
    [InlineData("""return Add(audit.Stamp(), [|pool.GetConnection()|].Execute("x"));""")]
    [InlineData("""return audit.Stamp() + [|pool.GetConnection()|].Execute("x");""")]
    [InlineData("""int stamp = audit.Stamp(), rows = [|pool.GetConnection()|].Execute("x"); return stamp + rows;""")]
    [InlineData("""return $"{audit.Stamp()} {[|pool.GetConnection()|].Execute("x")}".Length;""")]
    [InlineData("""totals[audit.Stamp()] = [|pool.GetConnection()|].Execute("x"); return 0;""")]
    [InlineData("""return new Report(audit) { Rows = [|pool.GetConnection()|].Execute("x") }.Rows;""")]
    [InlineData("""return audit.Count++ + [|pool.GetConnection()|].Execute("x");""")]
    [InlineData("""return (audit.Count = 2) + [|pool.GetConnection()|].Execute("x");""")]
    [InlineData("""return pool.GetConnection().Execute(audit.Stamp().ToString()) + [|pool.GetConnection()|].Execute("x");""")]
    public Task Acquisition_after_other_work_of_its_statement_gets_no_local(string statement) =>
        NoFixVerifier.VerifyAsync(WorkBefore.Replace("STATEMENT", statement));

    [Theory]
    [InlineData("""return await audit.StampAsync() + [|pool.GetConnection()|].Execute("x");""")]
    [InlineData("""return await pending + [|pool.GetConnection()|].Execute("x");""")]
    [InlineData("""return await pending.ConfigureAwait(false) + [|pool.GetConnection()|].Execute("x");""")]
    public Task Acquisition_after_an_await_of_other_work_gets_no_local(string statement) => NoFixVerifier.VerifyAsync($$"""
        using System.Threading.Tasks;
        using Prelude;

        class Audit
        {
            public async Task<int> StampAsync()
            {
                await Task.Yield();
                return 1;
            }
        }

        class C
        {
            async Task<int> M(LeasePool pool, Audit audit, Task<int> pending)
            {
                // Awaiting lets other code run first (the task's own work, its continuations).
                {{statement}}
            }
        }
        """);

    [Fact]
    public Task Acquisition_after_other_work_of_an_expression_body_gets_no_local() => NoFixVerifier.VerifyAsync("""
        using Prelude;

        class Audit
        {
            public int Stamp() => 1;
        }

        class C
        {
            static int Add(int first, int second) => first + second;

            int M(LeasePool pool, Audit audit) => Add(audit.Stamp(), [|pool.GetConnection()|].Execute("x"));
        }
        """);

    [Fact]
    public Task Acquisition_after_names_constants_lambdas_and_compiler_built_objects_still_gets_a_local() => Verify.VerifyCodeFixAsync("""
        using System;
        using Prelude;

        class Audit
        {
            public int Count;
            public int Stamp() => ++Count;
        }

        class Plain
        {
            public int Rows { get; set; }
        }

        class C
        {
            static int Add(int a, int b, int c, Func<int> d, int e) => a + b + c + d() + e;

            int M(LeasePool pool, Audit audit)
            {
                return Add(audit.Count, nameof(audit).Length, new Plain { Rows = 1 }.Rows, () => audit.Stamp(), [|pool.GetConnection()|].Execute("x"));
            }
        }
        """, """
        using System;
        using Prelude;

        class Audit
        {
            public int Count;
            public int Stamp() => ++Count;
        }

        class Plain
        {
            public int Rows { get; set; }
        }

        class C
        {
            static int Add(int a, int b, int c, Func<int> d, int e) => a + b + c + d() + e;

            int M(LeasePool pool, Audit audit)
            {
                using var connection = pool.GetConnection();
                return Add(audit.Count, nameof(audit).Length, new Plain { Rows = 1 }.Rows, () => audit.Stamp(), connection.Execute("x"));
            }
        }
        """, UseUsing);

    // ---------------------------------------------------------------- language versions

    [Fact]
    public Task Under_CSharp_7_3_a_lease_gets_a_finally_since_there_is_no_using_declaration() => CSharp7_3("""
        using Prelude;

        class C
        {
            int M(LeasePool pool)
            {
                var conn = [|pool.GetConnection()|];
                var n = conn.Execute("select 1");
                conn.Dispose();
                return n;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(LeasePool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    var n = conn.Execute("select 1");
                    return n;
                }
                finally
                {
                    conn.Dispose();
                }
            }
        }
        """);

    // The release leaves its branch empty and the if takes the else's statements under the opposite condition: C# 7.3
    // has no 'is not', so 'name is null' turns into '!(name is null)'.
    [Fact]
    public Task Under_CSharp_7_3_the_opposite_of_an_is_null_condition_is_written_without_is_not() => CSharp7_3("""
        using Prelude;

        class C
        {
            int M(Pool pool, string name)
            {
                var conn = [|pool.GetConnection()|];
                var rows = conn.Execute("select 1");
                if (name is null)
                {
                    conn.Release();
                }
                else
                {
                    Log.Info(name);
                }

                return rows;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool, string name)
            {
                var conn = pool.GetConnection();
                try
                {
                    var rows = conn.Execute("select 1");
                    if (!(name is null))
                    {
                        Log.Info(name);
                    }

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
    public Task Under_CSharp_7_3_an_async_lease_is_disposed_in_finally_since_there_is_no_await_using() => CSharp7_3("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(LeasePool pool)
            {
                var conn = await [|pool.GetConnectionAsync("t")|];
                var n = await conn.ExecuteAsync("select 1");
                await conn.DisposeAsync();
                return n;
            }
        }
        """, """
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(LeasePool pool)
            {
                var conn = await pool.GetConnectionAsync("t");
                try
                {
                    var n = await conn.ExecuteAsync("select 1");
                    return n;
                }
                finally
                {
                    await conn.DisposeAsync();
                }
            }
        }
        """);

    [Fact]
    public Task Under_CSharp_7_3_a_discarded_async_lease_is_disposed_by_a_call_not_an_await_using() => CSharp7_3("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task M(LeasePool pool)
            {
                await [|pool.GetConnectionAsync("warm-up")|];
            }
        }
        """, """
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task M(LeasePool pool)
            {
                await (await pool.GetConnectionAsync("warm-up")).DisposeAsync();
            }
        }
        """);

    [Fact]
    public Task Under_CSharp_7_3_an_expression_bodied_property_gets_a_local_released_in_finally() => CSharp7_3("""
        using Prelude;

        class C
        {
            private readonly LeasePool _pool = new LeasePool();

            public int Count => [|_pool.GetConnection()|].Execute("select count(*) from t");
        }
        """, """
        using Prelude;

        class C
        {
            private readonly LeasePool _pool = new LeasePool();

            public int Count
            {
                get
                {
                    var connection = _pool.GetConnection();
                    try
                    {
                        return connection.Execute("select count(*) from t");
                    }
                    finally
                    {
                        connection.Dispose();
                    }
                }
            }
        }
        """);

    /// <summary>C# 8, the first version with <c>using</c> declarations: the fix writes one.</summary>
    [Fact]
    public Task Under_CSharp_8_an_expression_bodied_property_gets_a_using_declaration() => OnLanguageVersion(LanguageVersion.CSharp8, """
        using Prelude;

        class C
        {
            private readonly LeasePool _pool = new LeasePool();

            public int Count => [|_pool.GetConnection()|].Execute("select count(*) from t");
        }
        """, """
        using Prelude;

        class C
        {
            private readonly LeasePool _pool = new LeasePool();

            public int Count
            {
                get
                {
                    using var connection = _pool.GetConnection();
                    return connection.Execute("select count(*) from t");
                }
            }
        }
        """);

    /// <summary>The first fix offered, on a project whose language version is C# 7.3 (.NET Framework, netstandard2.0).</summary>
    private static Task CSharp7_3(string source, string fixedSource) => OnLanguageVersion(LanguageVersion.CSharp7_3, source, fixedSource);

    /// <summary>The first fix offered, on a project of <paramref name="version"/>.</summary>
    private static Task OnLanguageVersion(LanguageVersion version, string source, string fixedSource)
    {
        var test = Verify.CreateTest(source, fixedSource);
        test.SolutionTransforms.Add((solution, projectId) =>
            solution.WithProjectParseOptions(projectId, new CSharpParseOptions(version)));
        return test.RunAsync();
    }

    /// <summary>
    /// A connection taken in a clause of a query expression: the clause runs once per element, and only when the query is
    /// enumerated. A local taken before the statement would be one connection for every element, taken even for none,
    /// and released before a query returned unevaluated runs on it.
    /// </summary>
    [Theory]
    [InlineData("return from t in tenants select [|pool.GetConnection()|].Execute(t);")]
    [InlineData("return (from t in tenants where [|pool.GetConnection()|].Execute(t) > 0 select t).ToList();")]
    [InlineData("return from t in tenants let n = [|pool.GetConnection()|].Execute(t) select n;")]
    [InlineData("return from t in tenants orderby [|pool.GetConnection()|].Execute(t) select t.Length;")]
    public Task A_connection_taken_in_a_clause_of_a_query_gets_no_local(string statement) => NoFixVerifier.VerifyAsync($$"""
        using System.Collections.Generic;
        using System.Linq;
        using Prelude;

        class C
        {
            object M(Pool pool, List<string> tenants)
            {
                {{statement}}
            }

            IEnumerable<int> N(Pool pool, List<string> tenants) =>
                from t in tenants select [|pool.GetConnection()|].Execute(t);
        }
        """);

    /// <summary>A choice of two acquisitions used at once: a local for one of them would take it on both branches.</summary>
    [Theory]
    [InlineData("return (first ? [|a.GetConnection()|] : [|b.GetConnection()|]).Execute(\"select 1\");")]
    [InlineData("return (first switch { true => [|a.GetConnection()|], false => [|b.GetConnection()|] }).Execute(\"select 1\");")]
    public Task Choice_of_two_acquisitions_used_at_once_gets_no_local_for_either(string statement) => NoFixVerifier.VerifyAsync($$"""
        using Prelude;

        class C
        {
            int M(Pool a, Pool b, bool first)
            {
                {{statement}}
            }
        }
        """);

    [Theory]
    [InlineData("first ? [|a.GetConnection()|] : [|b.GetConnection()|]", "first ? a.GetConnection() : b.GetConnection()")]
    [InlineData("first switch { true => [|a.GetConnection()|], false => [|b.GetConnection()|] }", "first switch { true => a.GetConnection(), false => b.GetConnection() }")]
    public Task Fix_All_fixes_a_local_that_two_acquisitions_reach_once(string acquisitions, string fixedAcquisitions) => Verify.VerifyFixAllAsync(
        [$$"""
        using Prelude;

        class C
        {
            int Leased(LeasePool a, LeasePool b, bool first)
            {
                var lease = {{acquisitions}};
                var rows = lease.Execute("select 1");
                lease.Dispose();
                return rows;
            }

            int Pooled(Pool a, Pool b, bool first)
            {
                var conn = {{acquisitions}};
                var rows = conn.Execute("select 1");
                conn.Release();
                return rows;
            }
        }
        """],
        [$$"""
        using Prelude;

        class C
        {
            int Leased(LeasePool a, LeasePool b, bool first)
            {
                using var lease = {{fixedAcquisitions}};
                var rows = lease.Execute("select 1");
                return rows;
            }

            int Pooled(Pool a, Pool b, bool first)
            {
                var conn = {{fixedAcquisitions}};
                try
                {
                    var rows = conn.Execute("select 1");
                    return rows;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """]);

    [Theory]
    [InlineData("first ? [|a.Rent(tenant)|] : [|b.Rent(tenant)|]", "first ? a.Rent(tenant) : b.Rent(tenant)")]
    [InlineData("first switch { true => [|a.Rent(tenant)|], false => [|b.Rent(tenant)|] }", "first switch { true => a.Rent(tenant), false => b.Rent(tenant) }")]
    public Task A_choice_between_two_calls_of_a_method_of_the_code_that_acquires_gets_its_fix(string acquisitions, string fixedAcquisitions) => Verify.VerifyCodeFixAsync($$"""
        using MySqlConnector;

        sealed class TenantPool(MySqlDataSource source)
        {
            public MySqlConnection Rent(string tenant) => source.OpenConnection();
        }

        class C
        {
            int M(TenantPool a, TenantPool b, bool first, string tenant)
            {
                var conn = {{acquisitions}};
                using var command = new MySqlCommand("select 1", conn);
                var rows = System.Convert.ToInt32(command.ExecuteScalar());
                conn.Dispose();
                return rows;
            }
        }
        """, $$"""
        using MySqlConnector;

        sealed class TenantPool(MySqlDataSource source)
        {
            public MySqlConnection Rent(string tenant) => source.OpenConnection();
        }

        class C
        {
            int M(TenantPool a, TenantPool b, bool first, string tenant)
            {
                using var conn = {{fixedAcquisitions}};
                using var command = new MySqlCommand("select 1", conn);
                var rows = System.Convert.ToInt32(command.ExecuteScalar());
                return rows;
            }
        }
        """);

    [Fact]
    public Task Fix_All_fixes_each_of_two_acquisitions_assigned_to_one_variable_in_turn() => Verify.VerifyFixAllAsync(
        ["""
        using Prelude;

        class C
        {
            int M(Pool a, Pool b)
            {
                PooledConnection conn;
                conn = [|a.GetConnection()|];
                var rows = conn.Execute("select 1");
                conn.Release();
                conn = [|b.GetConnection()|];
                rows += conn.Execute("select 2");
                conn.Release();
                return rows;
            }
        }
        """],
        ["""
        using Prelude;

        class C
        {
            int M(Pool a, Pool b)
            {
                PooledConnection conn;
                conn = a.GetConnection();
                int rows;
                try
                {
                    rows = conn.Execute("select 1");
                }
                finally
                {
                    conn.Release();
                }

                conn = b.GetConnection();
                try
                {
                    rows += conn.Execute("select 2");
                }
                finally
                {
                    conn.Release();
                }

                return rows;
            }
        }
        """]);
}
