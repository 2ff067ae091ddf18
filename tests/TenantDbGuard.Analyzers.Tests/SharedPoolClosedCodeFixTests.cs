using TenantDbGuard.Analyzers.Tests.FixExecution;
using Verify = TenantDbGuard.Analyzers.Tests.Verifiers.CSharpCodeFixVerifier<
    TenantDbGuard.Analyzers.SharedPoolClosedAnalyzer,
    TenantDbGuard.CodeFixes.SharedPoolClosedCodeFixProvider>;

namespace TenantDbGuard.Analyzers.Tests;

[Collection(FixExecutionCollection.Name)]
public sealed class SharedPoolClosedCodeFixTests
{
    [Fact]
    public Task Dispose_of_a_shared_data_source_is_removed() => Verify.VerifyCodeFixAsync("""
        using System;
        using MySqlConnector;

        class C
        {
            private readonly MySqlDataSource _dataSource;

            public C(MySqlDataSource dataSource) => _dataSource = dataSource;

            public int Run()
            {
                using var conn = _dataSource.OpenConnection();
                using var command = new MySqlCommand("SELECT 1", conn);
                var value = Convert.ToInt32(command.ExecuteScalar());
                [|_dataSource.Dispose()|];
                return value;
            }
        }
        """, """
        using System;
        using MySqlConnector;

        class C
        {
            private readonly MySqlDataSource _dataSource;

            public C(MySqlDataSource dataSource) => _dataSource = dataSource;

            public int Run()
            {
                using var conn = _dataSource.OpenConnection();
                using var command = new MySqlCommand("SELECT 1", conn);
                var value = Convert.ToInt32(command.ExecuteScalar());
                return value;
            }
        }
        """);

    [Fact]
    public Task Awaited_DisposeAsync_with_ConfigureAwait_is_removed() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            public async Task RunAsync(MySqlDataSource dataSource)
            {
                try
                {
                    await using var conn = await dataSource.OpenConnectionAsync().ConfigureAwait(false);
                }
                finally
                {
                    // Closing the pool here broke every other request.
                    await [|dataSource.DisposeAsync()|].ConfigureAwait(false);
                }
            }
        }
        """, """
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            public async Task RunAsync(MySqlDataSource dataSource)
            {
                try
                {
                    await using var conn = await dataSource.OpenConnectionAsync().ConfigureAwait(false);
                }
                finally
                {
                    // Closing the pool here broke every other request.
                }
            }
        }
        """);

    [Fact]
    public Task Conditional_Dispose_is_removed() => Verify.VerifyCodeFixAsync("""
        using MySqlConnector;

        class C
        {
            private MySqlDataSource? _dataSource;

            public void Reset()
            {
                [|_dataSource?.Dispose()|];
                _dataSource = null;
            }
        }
        """, """
        using MySqlConnector;

        class C
        {
            private MySqlDataSource? _dataSource;

            public void Reset()
            {
                _dataSource = null;
            }
        }
        """, execution: Execution.Skip("The field is null in a new C: Reset has nothing to run."));

    [Fact]
    public Task Fix_all_removes_every_shared_Dispose_in_the_document() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            private readonly MySqlDataSource _master = new("Server=db");

            public async Task RunAsync(MySqlDataSource tenant)
            {
                await using (var conn = await tenant.OpenConnectionAsync())
                {
                }

                await [|tenant.DisposeAsync()|];
                [|_master.Dispose()|];
            }
        }
        """, """
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            private readonly MySqlDataSource _master = new("Server=db");

            public async Task RunAsync(MySqlDataSource tenant)
            {
                await using (var conn = await tenant.OpenConnectionAsync())
                {
                }
            }
        }
        """);

    [Fact]
    public Task No_fix_for_ClearPool_using_or_a_Dispose_that_is_not_a_statement_of_a_block()
    {
        const string source = """
            using MySqlConnector;

            class C
            {
                private readonly MySqlDataSource _dataSource = new("Server=db");

                public void Run(bool failed)
                {
                    if (failed)
                        [|_dataSource.Dispose()|];

                    using ([|_dataSource|])
                    {
                    }

                    [|MySqlConnection.ClearAllPools()|];
                }
            }
            """;
        return Verify.VerifyCodeFixAsync(source, source);
    }

    // The code of a build that is not compiled ('#if DEBUG') is trivia of the call: removing the call would remove it.
    [Fact]
    public Task No_fix_for_a_Dispose_below_code_of_another_build()
    {
        const string source = """
            using MySqlConnector;

            class C
            {
                public void Run(MySqlDataSource dataSource)
                {
                    try
                    {
                        using var conn = dataSource.OpenConnection();
                    }
                    finally
                    {
            #if TRACE_POOL
                        System.Console.WriteLine("closing");
            #endif
                        [|dataSource.Dispose()|];
                    }
                }
            }
            """;
        return Verify.VerifyCodeFixAsync(source, source);
    }

    [Theory]
    [InlineData("Console.WriteLine(\"closing\"); [|dataSource.Dispose()|]; // the caller's pool", "Console.WriteLine(\"closing\"); // the caller's pool")]
    [InlineData("// the caller's pool\n[|dataSource.Dispose()|]; Console.WriteLine(\"closing\");", "// the caller's pool\nConsole.WriteLine(\"closing\");")]
    [InlineData("[|dataSource.Dispose()|]; // the caller's pool", "// the caller's pool")]
    public Task Comments_and_statements_on_the_lines_of_the_removed_Dispose_stay(string line, string kept) => Verify.VerifyCodeFixAsync($$"""
        using System;
        using MySqlConnector;

        class C
        {
            public void Run(MySqlDataSource dataSource)
            {
                using var conn = dataSource.OpenConnection();
                {{line.Replace("\n", "\n        ")}}
                Console.WriteLine("done");
            }
        }
        """, $$"""
        using System;
        using MySqlConnector;

        class C
        {
            public void Run(MySqlDataSource dataSource)
            {
                using var conn = dataSource.OpenConnection();
                {{kept.Replace("\n", "\n        ")}}
                Console.WriteLine("done");
            }
        }
        """);

    [Fact]
    public Task Region_that_stands_above_the_removed_Dispose_stays() => Verify.VerifyCodeFixAsync("""
        using MySqlConnector;

        class C
        {
            public void Run(MySqlDataSource dataSource)
            {
                using var conn = dataSource.OpenConnection();
                #region Cleanup
                #endregion
                [|dataSource.Dispose()|];
            }
        }
        """, """
        using MySqlConnector;

        class C
        {
            public void Run(MySqlDataSource dataSource)
            {
                using var conn = dataSource.OpenConnection();
                #region Cleanup
                #endregion
            }
        }
        """);

    // '///' in a method body is a documentation comment to the parser, which holds its line's end: the line above the
    // removed call was taken for part of the call's own line, and went with it.
    [Fact]
    public Task Triple_slash_comment_above_the_removed_Dispose_stays() => Verify.VerifyCodeFixAsync("""
        using MySqlConnector;

        class C
        {
            public void Run(MySqlDataSource dataSource)
            {
                using var conn = dataSource.OpenConnection();
                /// the shared pool goes too
                [|dataSource.Dispose()|];
            }
        }
        """, """
        using MySqlConnector;

        class C
        {
            public void Run(MySqlDataSource dataSource)
            {
                using var conn = dataSource.OpenConnection();
                /// the shared pool goes too
            }
        }
        """);
}
