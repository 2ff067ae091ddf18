using TenantDbGuard.Analyzers.Tests.FixExecution;
using Verify = TenantDbGuard.Analyzers.Tests.Verifiers.CSharpCodeFixVerifier<
    TenantDbGuard.Analyzers.ConnectionLeakAnalyzer,
    TenantDbGuard.CodeFixes.ConnectionLeakCodeFixProvider>;

namespace TenantDbGuard.Analyzers.Tests;

/// <summary>The fixes treat a local alike whatever it is called: capitalised, '@'-escaped, or named like a type.</summary>
[Collection(FixExecutionCollection.Name)]
public sealed class ConnectionLeakCodeFixNameTests
{
    private const string ReleaseInFinally = "TDG001.ReleaseInFinally";

    [Theory]
    [InlineData("conn")]
    [InlineData("Conn")]
    [InlineData("CONN")]
    [InlineData("@conn")]
    [InlineData("@event")]
    [InlineData("_conn")]
    [InlineData("Pool")]
    public Task Release_at_the_end_moves_into_finally_whatever_the_local_is_called(string name) => Verify.VerifyCodeFixAsync($$"""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var {{name}} = [|pool.GetConnection()|];
                var rows = {{name}}.Execute("delete from sessions");
                {{name}}.Release();
                return rows;
            }
        }
        """, $$"""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var {{name}} = pool.GetConnection();
                try
                {
                    var rows = {{name}}.Execute("delete from sessions");
                    return rows;
                }
                finally
                {
                    {{name}}.Release();
                }
            }
        }
        """, ReleaseInFinally);

    [Theory]
    [InlineData("lease")]
    [InlineData("Lease")]
    [InlineData("@lease")]
    public Task Release_in_a_catch_and_at_the_end_becomes_one_release_in_finally_whatever_the_local_is_called(string name) => Verify.VerifyCodeFixAsync($$"""
        using System;
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var {{name}} = [|pool.GetConnection()|];
                int rows;
                try
                {
                    rows = {{name}}.Execute("delete from sessions");
                }
                catch (InvalidOperationException)
                {
                    {{name}}.Release();
                    throw;
                }

                Log.Info("deleted");
                {{name}}.Release();
                return rows;
            }
        }
        """, $$"""
        using System;
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var {{name}} = pool.GetConnection();
                try
                {
                    int rows;
                    rows = {{name}}.Execute("delete from sessions");

                    Log.Info("deleted");
                    return rows;
                }
                finally
                {
                    {{name}}.Release();
                }
            }
        }
        """, ReleaseInFinally);

    [Theory]
    [InlineData("conn")]
    [InlineData("Conn")]
    [InlineData("@event")]
    [InlineData("@class")]
    public Task Release_written_into_finally_names_the_local_as_declared(string name) => Verify.VerifyCodeFixAsync($$"""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var {{name}} = [|pool.GetConnection()|];
                return {{name}}.Execute("select 1");
            }
        }
        """, $$"""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var {{name}} = pool.GetConnection();
                try
                {
                    return {{name}}.Execute("select 1");
                }
                finally
                {
                    {{name}}.Release();
                }
            }
        }
        """, ReleaseInFinally);
}
