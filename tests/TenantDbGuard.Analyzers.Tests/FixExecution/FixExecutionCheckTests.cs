using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using TenantDbGuard.Analyzers.Tests.Verifiers;

namespace TenantDbGuard.Analyzers.Tests.FixExecution;

/// <summary>
/// The execution check must catch the harmful fixes it exists for: each case pairs leaky code with a "fix" that
/// compiles and silences TDG001 but breaks the code or keeps the leak, and one pairs it with a right fix.
/// </summary>
[Collection(FixExecutionCollection.Name)]
public sealed class FixExecutionCheckTests
{
    [Fact]
    public async Task A_right_fix_passes()
    {
        var report = await RunAsync("""
            using Prelude;

            class C
            {
                int M(Pool pool)
                {
                    var conn = [|pool.GetConnection()|];
                    var rows = conn.Execute("delete from sessions");
                    conn.Release();
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
                        return conn.Execute("delete from sessions");
                    }
                    finally
                    {
                        conn.Release();
                    }
                }
            }
            """);

        Assert.Empty(report.Failures);
    }

    [Fact]
    public async Task A_fix_that_keeps_the_leak_on_the_exception_path_is_caught()
    {
        var report = await RunAsync("""
            using Prelude;

            class C
            {
                int M(Pool pool)
                {
                    var conn = [|pool.GetConnection()|];
                    var rows = conn.Execute("delete from sessions");
                    conn.Release();
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
                    int rows;
                    rows = conn.Execute("delete from sessions");
                    conn.Release();
                    return rows;
                }
            }
            """);

        Assert.True(report.LeakLeft, string.Join("\n", report.Failures));
        Assert.Contains(report.Failures, f => f.Contains("FirstCommandThrows", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Disposing_in_a_loop_a_connection_the_next_iteration_opens_again_is_caught()
    {
        var report = await RunAsync("""
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
                            conn.Dispose();
                        }
                    }

                    conn.Dispose();
                }
            }
            """);

        Assert.True(report.BehaviourChanged, string.Join("\n", report.Failures));
        Assert.Contains(report.Failures, f => f.Contains("ObjectDisposedException", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_using_over_the_task_instead_of_the_connection_is_caught()
    {
        var report = await RunAsync("""
            using System.Threading.Tasks;
            using Prelude;

            class C
            {
                async Task<int> M(Pool pool)
                {
                    var pending = [|pool.GetConnectionAsync()|];
                    Log.Info("waiting");
                    var conn = await pending;
                    return await conn.ExecuteAsync("select 1");
                }
            }
            """, """
            using System.Threading.Tasks;
            using Prelude;

            class C
            {
                async Task<int> M(Pool pool)
                {
                    using var pending = pool.GetConnectionAsync();
                    Log.Info("waiting");
                    var conn = await pending;
                    return await conn.ExecuteAsync("select 1");
                }
            }
            """);

        Assert.True(report.LeakLeft, string.Join("\n", report.Failures));
    }

    [Fact]
    public async Task Disposing_a_connection_a_field_now_holds_is_caught_on_the_second_call()
    {
        var report = await RunAsync("""
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
            """, """
            using System.Threading;
            using Prelude;

            class C
            {
                private ConnectionLease _cached;

                int M(LeasePool pool)
                {
                    using var lease = pool.GetConnection();
                    if (Interlocked.CompareExchange(ref _cached, lease, null) != null)
                    {
                        lease.Dispose();
                    }

                    return _cached.Execute("select 1");
                }
            }
            """);

        Assert.True(report.BehaviourChanged, string.Join("\n", report.Failures));
        Assert.Contains(report.Failures, f => f.Contains("CalledTwice", StringComparison.Ordinal) && f.Contains("ObjectDisposedException", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Disposing_the_connection_of_a_returned_CloseConnection_reader_is_caught()
    {
        var report = await RunAsync("""
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
                    using var conn = new MySqlConnection(connectionString);
                    conn.Open();
                    var command = new MySqlCommand("select name from customers order by id", conn);
                    return command.ExecuteReader(CommandBehavior.CloseConnection);
                }
            }
            """);

        Assert.True(report.BehaviourChanged, string.Join("\n", report.Failures));
    }

    [Fact]
    public async Task A_fix_that_releases_a_pooled_connection_twice_is_caught()
    {
        var report = await RunAsync("""
            using Prelude;

            class C
            {
                void M(Pool pool)
                {
                    var conn = [|pool.GetConnection()|];
                    conn.Execute("delete from sessions");
                    conn.Release();
                }
            }
            """, """
            using Prelude;

            class C
            {
                void M(Pool pool)
                {
                    var conn = pool.GetConnection();
                    try
                    {
                        conn.Execute("delete from sessions");
                        conn.Release();
                    }
                    finally
                    {
                        conn.Release();
                    }
                }
            }
            """);

        Assert.True(report.BehaviourChanged, string.Join("\n", report.Failures));
        Assert.Contains(report.Failures, f => f.Contains("twice", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_fix_that_holds_the_connection_while_the_code_takes_another_is_caught()
    {
        var report = await RunAsync("""
            using Prelude;

            class C
            {
                int M(Pool pool)
                {
                    var conn = [|pool.GetConnection()|];
                    var rows = conn.Execute("update tenants set seen = now()");
                    conn.Release();
                    var audit = pool.GetConnection();
                    try
                    {
                        audit.Execute("insert into audit_log (action, at) values ('touch', now())");
                    }
                    finally
                    {
                        audit.Release();
                    }

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
                        var rows = conn.Execute("update tenants set seen = now()");
                        var audit = pool.GetConnection();
                        try
                        {
                            audit.Execute("insert into audit_log (action, at) values ('touch', now())");
                        }
                        finally
                        {
                            audit.Release();
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

        Assert.True(report.BehaviourChanged, string.Join("\n", report.Failures));
        Assert.Contains(report.Failures, f => f.Contains("at once", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_sequence_abandoned_after_one_item_shows_the_leak_of_an_iterator()
    {
        var report = await RunAsync("""
            using System.Collections.Generic;
            using Prelude;

            class C
            {
                IEnumerable<int> M(Pool pool)
                {
                    var conn = [|pool.GetConnection()|];
                    yield return conn.Execute("select 1");
                    yield return conn.Execute("select 2");
                    conn.Release();
                }
            }
            """, """
            using System.Collections.Generic;
            using Prelude;

            class C
            {
                IEnumerable<int> M(Pool pool)
                {
                    var conn = pool.GetConnection();
                    yield return conn.Execute("select 1");
                    yield return conn.Execute("select 2");
                    conn.Release();
                }
            }
            """.Replace("conn.Release();", "conn.Release(); // not fixed"));

        Assert.Contains(report.Failures, f => f.Contains("SequenceAbandoned", StringComparison.Ordinal) && f.Contains("still holds", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_owner_is_run_from_its_constructor_to_its_Dispose_and_what_its_property_hands_out_stays_its_own()
    {
        const string owner = """
            using Prelude;

            sealed class ImportBatch
            {
                public ImportBatch(Pool pool) => Connection = pool.GetConnection();

                public PooledConnection [|Connection|] { get; }
            }
            """;
        var right = await RunAsync(owner, owner
            .Replace("sealed class ImportBatch", "sealed class ImportBatch : System.IDisposable")
            .Replace("{ get; }", "{ get; }\n\n    public void Dispose() => Connection.Release();"));
        var leaky = await RunAsync(owner, owner
            .Replace("sealed class ImportBatch", "sealed class ImportBatch : System.IDisposable")
            .Replace("{ get; }", "{ get; }\n\n    public void Dispose() => Log.Info(\"done\");"));
        var original = await FixExecutionCheck.RunAsync([Strip(owner)], [Strip(owner)], Spans(owner), OutputKind.DynamicallyLinkedLibrary);

        Assert.Empty(right.Failures);
        Assert.Contains(leaky.Failures, f => f.Contains("new ImportBatch(pool) owning Connection", StringComparison.Ordinal) && f.Contains("still holds", StringComparison.Ordinal));
        Assert.True(original.LeakLeft);
    }

    [Fact]
    public async Task An_owner_that_acquires_in_a_method_is_used_until_it_holds_the_connection()
    {
        const string owner = """
            using System.Threading.Tasks;
            using Prelude;

            sealed class ReportScope
            {
                private PooledConnection [|_connection|];

                public async Task StartAsync(Pool pool) => _connection ??= await pool.GetConnectionAsync();

                public int Count() => _connection.Execute("select count(*) from invoices");
            }
            """;
        var report = await RunAsync(owner, owner
            .Replace("sealed class ReportScope", "sealed class ReportScope : System.IDisposable")
            .Replace("    public int Count()", "    public void Dispose() => _connection?.Release();\n\n    public int Count()"));

        Assert.Empty(report.Failures);
        Assert.NotEqual(ExecutionReport.NotRun, report);
    }

    [Fact]
    public void The_runnable_Prelude_has_the_public_surface_of_the_test_Prelude()
    {
        var compilation = CSharpCompilation.Create(
            "Prelude",
            [CSharpSyntaxTree.ParseText(TestPrelude.Source)],
            TestReferences.Libraries,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        var declared = compilation.GetSymbolsWithName(_ => true, SymbolFilter.Type)
            .OfType<INamedTypeSymbol>()
            .Where(t => t.DeclaredAccessibility == Accessibility.Public)
            .SelectMany(t => t.GetMembers()
                .Where(m => m.DeclaredAccessibility == Accessibility.Public && m is IMethodSymbol { MethodKind: MethodKind.Ordinary } or IPropertySymbol)
                .Where(_ => !t.IsRecord)
                .Select(m => $"{t.Name}.{m.Name}({(m is IMethodSymbol method ? string.Join(",", method.Parameters.Select(p => p.Type.Name + (p.RefKind == RefKind.None ? "" : "&"))) : "")})")
                .Append(t.Name))
            .Order(StringComparer.Ordinal);
        var runnable = typeof(Prelude.Pool).Assembly.GetTypes()
            .Where(t => t.IsPublic && t.Namespace == "Prelude")
            .SelectMany(t => t.GetMembers(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly)
                .Where(m => m is MethodInfo { IsSpecialName: false } or PropertyInfo)
                .Where(m => t.GetMethod("<Clone>$") is null)
                .Select(m => $"{t.Name}.{m.Name}({(m is MethodInfo method ? string.Join(",", method.GetParameters().Select(p => p.ParameterType.Name)) : "")})")
                .Append(t.Name))
            .Order(StringComparer.Ordinal);

        Assert.Equal(declared, runnable);
    }

    private static string Strip(string source) => Markup.Strip(source, _ => { });

    private static List<(int Source, Microsoft.CodeAnalysis.Text.TextSpan Span)> Spans(string source)
    {
        var spans = new List<(int Source, Microsoft.CodeAnalysis.Text.TextSpan Span)>();
        Markup.Strip(source, span => spans.Add((0, span)));
        return spans;
    }

    private static Task<ExecutionReport> RunAsync(string source, string fixedSource) =>
        FixExecutionCheck.RunAsync([source], [fixedSource], OutputKind.DynamicallyLinkedLibrary, Execution.Default);
}
