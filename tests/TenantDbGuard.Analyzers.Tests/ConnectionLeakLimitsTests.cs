using System.Linq;
using System.Text;
using TenantDbGuard.Analyzers.ConnectionLeak;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis.Testing;
using Verify = TenantDbGuard.Analyzers.Tests.Verifiers.CSharpAnalyzerVerifier<TenantDbGuard.Analyzers.ConnectionLeakAnalyzer>;

namespace TenantDbGuard.Analyzers.Tests;

/// <summary>
/// The flow state has no size beyond which acquisitions go unchecked, and what it cannot follow exactly makes it
/// say nothing rather than something wrong.
/// </summary>
public sealed class ConnectionLeakLimitsTests
{
    [Fact]
    public void Paths_that_differ_only_in_the_values_of_their_flags_hash_apart()
    {
        // Every combination of ten flags known true or false: the set of visited paths looks them up by hash, and one
        // hash for all of them made a method with a dozen flags take seconds (twenty flags: about 25 s).
        var hashes = new HashSet<int>();
        for (var values = 0; values < 1 << 10; values++)
        {
            var flags = 0UL;
            for (var flag = 0; flag < 10; flag++)
            {
                flags |= (values & (1 << flag)) != 0 ? 1UL << flag : 1UL << (32 + flag);
            }

            hashes.Add(new PathState(ResourceStatus.Held, HolderSet.Of(0), 0, flags).GetHashCode());
        }

        Assert.True(hashes.Count > 1000, $"{hashes.Count} hashes for 1024 paths.");

        // And holders: the variables that hold the connection, in any combination of ten of them.
        var holders = new HashSet<int>();
        for (var values = 0; values < 1 << 10; values++)
        {
            var set = HolderSet.Empty;
            for (var bit = 0; bit < 10; bit++)
            {
                set |= (values & (1 << bit)) != 0 ? HolderSet.Of(bit) : HolderSet.Of(32 + bit);
            }

            holders.Add(set.GetHashCode());
        }

        Assert.True(holders.Count > 1000, $"{holders.Count} hashes for 1024 sets of holders.");
    }

    [Fact]
    public Task Every_one_of_eighty_acquisitions_in_one_method_is_analysed()
    {
        // Line 7 takes and releases c0; lines 9 to 87 take c1 to c79 and never release them.
        var body = new StringBuilder("        var c0 = pool.GetConnection();\n        c0.Release();\n");
        var expected = new DiagnosticResult[79];
        for (var i = 1; i < 80; i++)
        {
            body.Append($"        var c{i} = {{|#{i}:pool.GetConnection()|}};\n");
            expected[i - 1] = Verify.Diagnostic().WithLocation(i).WithArguments($"'c{i}'", "on the path that leaves the method after line 87");
        }

        var source = "using Prelude;\n\nclass C\n{\n    void M(Pool pool)\n    {\n" + body + "    }\n}\n";
        return Verify.VerifyAnalyzerAsync(source, expected);
    }

    [Fact]
    public Task A_connection_copied_through_seventy_variables_is_still_followed() =>
        // More variables hold the one connection than a 64-bit word has bits; the last copy is released too late.
        Verify.VerifyAnalyzerAsync(
            CopiedThroughSeventyVariables("{|#0:pool.GetConnection()|}", "        a70.Execute(\"select 1\");\n        a70.Release();\n"),
            Verify.Diagnostic().WithLocation(0).WithArguments("'a0'", "if an exception is thrown at line 78"));

    [Fact]
    public Task A_connection_copied_through_seventy_variables_and_released_in_finally_is_not_reported() =>
        Verify.VerifyAnalyzerAsync(CopiedThroughSeventyVariables(
            "pool.GetConnection()",
            "        try\n        {\n            a70.Execute(\"select 1\");\n        }\n        finally\n        {\n            a70.Release();\n        }\n"));

    [Theory]
    [InlineData(12)]
    [InlineData(20)]
    public Task Many_released_flags_in_one_method_give_no_false_report(int count)
    {
        // Each connection is released once: in the try, or by the finally when the flag says it was not. The state holds
        // 16 flags; past that the acquisitions whose paths test another flag are not reported, never falsely reported.
        var body = new StringBuilder();
        for (var i = 0; i < count; i++)
        {
            body.Append($$"""
                        var c{{i}} = pool.GetConnection();
                        var released{{i}} = false;
                        try
                        {
                            c{{i}}.Execute("select {{i}}");
                            c{{i}}.Release();
                            released{{i}} = true;
                            Log.Info("done {{i}}");
                        }
                        finally
                        {
                            if (!released{{i}})
                            {
                                c{{i}}.Release();
                            }
                        }

                """);
        }

        var source = "using Prelude;\n\nclass C\n{\n    void M(Pool pool)\n    {\n" + body + "    }\n}\n";
        return Verify.VerifyAnalyzerAsync(source);
    }

    [Theory]
    [InlineData(12)]
    [InlineData(18)]
    [InlineData(20)]
    public Task Many_flags_that_two_tests_read_together_give_no_false_report(int count)
    {
        // Each connection is released by one of two tests of the same flag: only the flag's value on the path tells that
        // one of them always runs. Each acquisition's paths end in its own branch, so they test no flag but their own.
        // Past the 16 flags the state holds, every flag left out makes the analysis say nothing about the paths that
        // test it; the first one left out as much as the last.
        var body = new StringBuilder();
        for (var i = 0; i < count; i++)
        {
            body.Append($$"""
                        if (choice == {{i}})
                        {
                            var c{{i}} = pool.GetConnection();
                            var done{{i}} = false;
                            try
                            {
                                c{{i}}.Execute("select {{i}}");
                                done{{i}} = true;
                            }
                            finally
                            {
                                if (!done{{i}})
                                {
                                    c{{i}}.Release();
                                }
                            }

                            if (done{{i}})
                            {
                                c{{i}}.Release();
                            }

                            return;
                        }

                """);
        }

        var source = "using Prelude;\n\nclass C\n{\n    void M(Pool pool, int choice)\n    {\n" + body + "    }\n}\n";
        return Verify.VerifyAnalyzerAsync(source);
    }

    [Theory]
    [InlineData(12)]
    public Task Many_ownership_tests_in_one_method_give_no_false_report(int count)
    {
        // 'shared ?? pool.GetConnection()' and 'if (shared == null)' test the same parameter twice: a remembered fact. The
        // state remembers 8 of them; past that the acquisitions whose paths test another are not reported.
        var body = new StringBuilder();
        var parameters = new StringBuilder("Pool pool");
        for (var i = 0; i < count; i++)
        {
            parameters.Append($", PooledConnection? shared{i}");
            body.Append($$"""
                        var c{{i}} = shared{{i}} ?? pool.GetConnection();
                        try
                        {
                            c{{i}}.Execute("select {{i}}");
                        }
                        finally
                        {
                            if (shared{{i}} == null)
                            {
                                c{{i}}.Release();
                            }
                        }

                """);
        }

        var source = "#nullable enable\nusing Prelude;\n\nclass C\n{\n    void M(" + parameters + ")\n    {\n" + body + "    }\n}\n";
        return Verify.VerifyAnalyzerAsync(source);
    }

    [Theory]
    [InlineData(12)]
    public Task Many_comparisons_with_constants_in_one_method_give_no_false_report(int count)
    {
        // 'modeN == Mode.Own' chooses the connection and decides its release: a remembered fact each. The state remembers
        // 8 facts; past that the acquisitions whose paths test another are not reported.
        var body = new StringBuilder();
        var parameters = new StringBuilder("Pool pool, PooledConnection shared");
        for (var i = 0; i < count; i++)
        {
            parameters.Append($", Mode mode{i}");
            body.Append($$"""
                        var c{{i}} = mode{{i}} == Mode.Own ? pool.GetConnection() : shared;
                        try
                        {
                            c{{i}}.Execute("select {{i}}");
                        }
                        finally
                        {
                            if (mode{{i}} is Mode.Own)
                            {
                                c{{i}}.Release();
                            }
                        }

                """);
        }

        var source = "using Prelude;\n\nenum Mode { Borrow, Own }\n\nclass C\n{\n    void M(" + parameters + ")\n    {\n" + body + "    }\n}\n";
        return Verify.VerifyAnalyzerAsync(source);
    }

    [Fact]
    public Task A_switch_over_more_constants_than_the_state_remembers_still_reports_a_leak()
    {
        // Each case compares 'kind' with a constant, and 'kind' is tested again after: the cases are worth remembering,
        // but past the state's room they are simply not remembered, and the early return still leaks.
        var cases = new StringBuilder();
        for (var i = 0; i < 12; i++)
        {
            cases.Append($"            case Kind.K{i}:\n                Log.Info(\"{i}\");\n                break;\n");
        }

        var members = string.Join(", ", Enumerable.Range(0, 12).Select(i => $"K{i}"));
        var source = "using Prelude;\n\nenum Kind { " + members + " }\n\nclass C\n{\n    void M(Pool pool, Kind kind)\n    {\n"
            + "        var conn = {|#0:pool.GetConnection()|};\n        switch (kind)\n        {\n" + cases + "        }\n\n"
            + "        if (kind == Kind.K3)\n        {\n            return;\n        }\n\n        conn.Release();\n    }\n}\n";
        return Verify.VerifyAnalyzerAsync(source, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that leaves the method after line 50"));
    }

    [Theory]
    [InlineData(10)]
    [InlineData(20)]
    public Task Many_locals_left_null_in_one_method_give_no_false_report(int count)
    {
        // Each connection is released through '(cachedN ?? cN)', whose 'cachedN' the method left null. The state follows
        // 15 such locals; past that the acquisitions whose paths test another are not reported, never falsely reported.
        var body = new StringBuilder();
        for (var i = 0; i < count; i++)
        {
            body.Append($$"""
                        PooledConnection? cached{{i}} = null;
                        var c{{i}} = pool.GetConnection();
                        try
                        {
                            c{{i}}.Execute("select {{i}}");
                        }
                        finally
                        {
                            (cached{{i}} ?? c{{i}}).Release();
                        }

                """);
        }

        var source = "#nullable enable\nusing Prelude;\n\nclass C\n{\n    void M(Pool pool)\n    {\n" + body + "    }\n}\n";
        return Verify.VerifyAnalyzerAsync(source);
    }

    [Fact]
    public Task Null_locals_released_flags_and_remembered_conditions_in_one_method_keep_to_their_own_state()
    {
        // Every kind of path state at once, each past what one word of it holds: 16 locals left null (15 followed, the
        // 16th not), 10 released flags and 6 remembered ownership tests, and one leak among them that must be found
        // with its own message. A state bit shared between two kinds would prune a real path or follow a false one.
        var body = new StringBuilder();
        var parameters = new StringBuilder("Pool pool");
        for (var i = 0; i < 16; i++)
        {
            body.Append($$"""
                        PooledConnection? cached{{i}} = null;
                        var n{{i}} = pool.GetConnection();
                        try
                        {
                            n{{i}}.Execute("select {{i}}");
                        }
                        finally
                        {
                            (cached{{i}} ?? n{{i}}).Release();
                        }

                """);
        }

        for (var i = 0; i < 10; i++)
        {
            body.Append($$"""
                        var f{{i}} = pool.GetConnection();
                        var released{{i}} = false;
                        try
                        {
                            f{{i}}.Execute("select {{i}}");
                            f{{i}}.Release();
                            released{{i}} = true;
                        }
                        finally
                        {
                            if (!released{{i}})
                            {
                                f{{i}}.Release();
                            }
                        }

                """);
        }

        for (var i = 0; i < 6; i++)
        {
            parameters.Append($", PooledConnection? shared{i}");
            // The last one releases under the opposite test: a leak that a remembered condition must keep in view.
            var acquire = i == 5 ? "{|#1:pool.GetConnection()|}" : "pool.GetConnection()";
            var test = i == 5 ? "!=" : "==";
            body.Append($$"""
                        var s{{i}} = shared{{i}} ?? {{acquire}};
                        try
                        {
                            s{{i}}.Execute("select {{i}}");
                        }
                        finally
                        {
                            if (shared{{i}} {{test}} null)
                            {
                                s{{i}}.Release();
                            }
                        }

                """);
        }

        // The leak comes last: an acquisition whose own paths test the 16th local is not reported at all.
        body.Append("        var leaked = {|#0:pool.GetConnection()|};\n        leaked.Execute(\"select 0\");\n        leaked.Release();\n");
        var source = "#nullable enable\nusing Prelude;\n\nclass C\n{\n    void M(" + parameters + ")\n    {\n" + body + "    }\n}\n";
        var leakLine = source.Split('\n').ToList().FindIndex(line => line.Contains("leaked.Execute", StringComparison.Ordinal)) + 1;
        var lastLine = source.Split('\n').ToList().FindLastIndex(line => line.Contains("leaked.Release()", StringComparison.Ordinal)) + 1;
        return Verify.VerifyAnalyzerAsync(
            source,
            Verify.Diagnostic().WithLocation(0).WithArguments("'leaked'", $"if an exception is thrown at line {leakLine}"),
            Verify.Diagnostic().WithLocation(1).WithArguments("'s5'", $"on the path that leaves the method after line {lastLine}"));
    }

    [Fact]
    public Task A_leak_on_the_false_side_of_the_eighth_remembered_condition_is_found_beside_locals_left_null()
    {
        // Eight bool parameters each tested twice fill the remembered conditions; two locals left null take state bits
        // of their own. The leak is on the false side of the eighth condition: a null local sharing that condition's
        // "true" bit would prune the leaking path.
        var parameters = new StringBuilder("Pool pool");
        var first = new StringBuilder();
        var again = new StringBuilder();
        for (var i = 0; i < 8; i++)
        {
            parameters.Append($", bool flag{i}");
            again.Append($"        if (flag{i}) Log.Info(\"again {i}\");\n");
            if (i < 7)
            {
                first.Append($"        if (flag{i}) Log.Info(\"first {i}\");\n");
            }
        }

        var source = "#nullable enable\nusing Prelude;\n\nclass C\n{\n    void M(" + parameters + ")\n    {\n"
            + "        PooledConnection? cached0 = null;\n        PooledConnection? cached1 = null;\n"
            + first
            + "        var conn = {|#0:pool.GetConnection()|};\n"
            + "        try\n        {\n            conn.Execute(\"select 1\");\n        }\n"
            + "        finally\n        {\n            if (flag7) conn.Release();\n        }\n\n"
            + again
            + "        cached0?.Release();\n        cached1?.Release();\n"
            + "    }\n}\n";
        var lastLine = source.Split('\n').ToList().FindIndex(line => line.Contains("cached1?.Release()", StringComparison.Ordinal)) + 1;
        return Verify.VerifyAnalyzerAsync(
            source,
            Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", $"on the path that leaves the method after line {lastLine}"));
    }

    [Fact]
    public Task A_leak_next_to_twelve_released_flags_is_still_reported()
    {
        // Twelve flags fit in the state: the leak before them is found as in a method without flags.
        var body = new StringBuilder("        var leaked = {|#0:pool.GetConnection()|};\n        leaked.Execute(\"select 0\");\n        leaked.Release();\n");
        for (var i = 0; i < 12; i++)
        {
            body.Append($$"""
                        var c{{i}} = pool.GetConnection();
                        var released{{i}} = false;
                        try
                        {
                            c{{i}}.Release();
                            released{{i}} = true;
                        }
                        finally
                        {
                            if (!released{{i}})
                            {
                                c{{i}}.Release();
                            }
                        }

                """);
        }

        var source = "using Prelude;\n\nclass C\n{\n    void M(Pool pool)\n    {\n" + body + "    }\n}\n";
        return Verify.VerifyAnalyzerAsync(source, Verify.Diagnostic().WithLocation(0).WithArguments("'leaked'", "if an exception is thrown at line 8"));
    }

    /// <summary>A method that takes a connection into a0 (line 7), copies it through a1 to a70, then runs <paramref name="tail"/>.</summary>
    private static string CopiedThroughSeventyVariables(string acquisition, string tail)
    {
        var body = new StringBuilder($"        var a0 = {acquisition};\n");
        for (var i = 1; i <= 70; i++)
        {
            body.Append($"        var a{i} = a{i - 1};\n");
        }

        return "using Prelude;\n\nclass C\n{\n    void M(Pool pool)\n    {\n" + body + tail + "    }\n}\n";
    }

    [Fact]
    public Task A_method_beyond_the_step_limit_says_so_once_and_reports_no_leak()
    {
        // Each 'if' may copy the connection into one more variable: 2^18 holder sets, far beyond the walk's 50,000 steps.
        // Both acquisitions leak on purpose: an analysis that stopped must not report them, and says so once, on M.
        const int Branches = 18;
        var body = new StringBuilder();
        for (var lease = 0; lease < 2; lease++)
        {
            body.Append($"        var c{lease} = pool.GetConnection();\n");
            for (var i = 0; i < Branches; i++)
            {
                body.Append($"        PooledConnection? a{lease}_{i} = null;\n        if (flags[{i}]) a{lease}_{i} = c{lease};\n");
            }
        }

        var source = "using Prelude;\n\nclass C\n{\n    void {|#0:M|}(Pool pool, bool[] flags)\n    {\n" + body + "    }\n}\n";
        return Verify.VerifyAnalyzerAsync(source, Verify.Diagnostic(Descriptors.AnalysisLimitReached).WithLocation(0).WithArguments("M", 2));
    }

    [Theory]
    [InlineData("lambda")]
    [InlineData("local function")]
    [InlineData("both")]
    public Task A_lambda_or_local_function_beyond_the_step_limit_is_counted_on_its_method(string where)
    {
        // The same 2^18 holder sets as above, inside a lambda, a local function or one of each: the method that holds them
        // says how many acquisitions went unchecked in all.
        const int Branches = 18;
        string Body(string indent)
        {
            var body = new StringBuilder();
            for (var lease = 0; lease < 2; lease++)
            {
                body.Append($"{indent}var c{lease} = pool.GetConnection();\n");
                for (var i = 0; i < Branches; i++)
                {
                    body.Append($"{indent}PooledConnection? a{lease}_{i} = null;\n{indent}if (flags[{i}]) a{lease}_{i} = c{lease};\n");
                }
            }

            return body.ToString();
        }

        var lambda = "        System.Action run = () =>\n        {\n" + Body("            ") + "        };\n        run();\n";
        var local = "        Run();\n\n        void Run()\n        {\n" + Body("            ") + "        }\n";
        var (code, count) = where switch
        {
            "lambda" => (lambda, 2),
            "local function" => (local, 2),
            _ => (lambda + local, 4),
        };
        var source = "using Prelude;\n\nclass C\n{\n    void {|#0:M|}(Pool pool, bool[] flags)\n    {\n" + code + "    }\n}\n";
        return Verify.VerifyAnalyzerAsync(source, Verify.Diagnostic(Descriptors.AnalysisLimitReached).WithLocation(0).WithArguments("M", count));
    }

    [Fact]
    public Task A_method_within_the_step_limit_raises_no_limit_diagnostic() =>
        // Eight copies: 256 holder sets, well within the limit; the leak is reported and nothing is said of the limit.
        Verify.VerifyAnalyzerAsync(
            "using Prelude;\n\nclass C\n{\n    void M(Pool pool, bool[] flags)\n    {\n        var c = {|#0:pool.GetConnection()|};\n"
            + string.Concat(Enumerable.Range(0, 8).Select(i => $"        PooledConnection? a{i} = null;\n        if (flags[{i}]) a{i} = c;\n"))
            + "    }\n}\n",
            Verify.Diagnostic().WithLocation(0).WithArguments("'c'", "on the path that leaves the method after line 23"));
}
