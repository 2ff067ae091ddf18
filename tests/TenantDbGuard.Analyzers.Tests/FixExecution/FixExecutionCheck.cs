using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace TenantDbGuard.Analyzers.Tests.FixExecution;

/// <summary>How a code-fix test case takes part in the execution check: by default it does.</summary>
public sealed record Execution
{
    public static Execution Default { get; } = new();

    /// <summary>Why this case is not run; say it in the test.</summary>
    public string? SkipReason { get; private init; }

    public static Execution Skip(string reason) =>
        string.IsNullOrWhiteSpace(reason) ? throw new ArgumentException("Say why the case is not run.", nameof(reason)) : new Execution { SkipReason = reason };
}

/// <summary>What the execution check found for one test case.</summary>
internal sealed record ExecutionReport(IReadOnlyList<string> Failures, bool LeakLeft, bool BehaviourChanged)
{
    public static ExecutionReport NotRun { get; } = new([], false, false);
}

/// <summary>
/// Proves a code fix by running it: the original and the fixed code are compiled, and every member that holds a
/// diagnostic is called as a careful caller would (a field or property that owns a connection: its type is constructed,
/// used and released, see <see cref="OwnerCaller"/>), in memory (the runnable Prelude) and against MariaDB, in every
/// <see cref="FaultMode"/> and with every combination of its flags. After the fix nothing may be held in any run, and
/// wherever the original neither leaked nor used a released object, the fixed code must end the same way (result or
/// exception type) and do the same work.
/// </summary>
internal static class FixExecutionCheck
{
    private static int s_pools;

    /// <summary>Runs the check and fails the test with every difference found.</summary>
    public static async Task VerifyAsync(IReadOnlyList<string> sources, IReadOnlyList<string> fixedSources, OutputKind outputKind, Execution execution)
    {
        var report = await RunAsync(sources, fixedSources, outputKind, execution);
        if (report.Failures.Count > 0)
        {
            Assert.Fail("The execution check found:\n" + string.Join("\n", report.Failures));
        }
    }

    /// <param name="sources">The test code with its diagnostics marked (<c>[|...|]</c>, <c>{|#0:...|}</c>).</param>
    /// <param name="fixedSources">The code after the fix, in the same order.</param>
    /// <param name="outputKind">A library, or a program for top-level statements.</param>
    /// <param name="execution">Whether the case is run.</param>
    public static Task<ExecutionReport> RunAsync(IReadOnlyList<string> sources, IReadOnlyList<string> fixedSources, OutputKind outputKind, Execution execution)
    {
        var spans = new List<(int Source, TextSpan Span)>();
        var original = sources.Select((source, i) => Markup.Strip(source, span => spans.Add((i, span)))).ToList();
        var @fixed = fixedSources.Select(source => Markup.Strip(source, _ => { })).ToList();
        return execution.SkipReason is not null || original.SequenceEqual(@fixed)
            ? Task.FromResult(ExecutionReport.NotRun)
            : RunAsync(original, @fixed, spans, outputKind);
    }

    /// <summary>
    /// Runs the members that hold <paramref name="spans"/> in both versions. Given the original twice, it tells whether
    /// the original itself leaks (<see cref="ExecutionReport.LeakLeft"/>).
    /// </summary>
    public static async Task<ExecutionReport> RunAsync(IReadOnlyList<string> original, IReadOnlyList<string> @fixed, IReadOnlyList<(int Source, TextSpan Span)> spans, OutputKind outputKind)
    {
        var before = CaseAssembly.Compile("original", original, outputKind);
        var after = CaseAssembly.Compile("fixed", @fixed, outputKind);
        string[] databaseWords = ["MySql", "System.Data", nameof(Prelude.ConnectionFactory)];
        var needsDatabase = original.Any(s => databaseWords.Any(word => s.Contains(word, StringComparison.Ordinal)));

        // How many connections concurrent work holds at one time is a race; it is compared for sequential code only.
        string[] concurrencyWords = ["Parallel", "Task.Run", "WhenAll", "WhenAny", "StartNew", "ThreadPool", "Thread("];
        var sequential = !original.Concat(@fixed).Any(s => concurrencyWords.Any(word => s.Contains(word, StringComparison.Ordinal)));
        var failures = new List<string>();
        bool leakLeft = false, changed = false;
        var acquiredBy = new Dictionary<string, bool>();
        foreach (var member in before.MembersAt(spans))
        {
            var acquired = false;
            foreach (var inMemory in needsDatabase ? [false] : new[] { true, false })
            {
                foreach (var flags in FlagCombinations(member))
                {
                    Observation? normal = null;
                    foreach (var mode in Enum.GetValues<FaultMode>())
                    {
                        if (normal is not null && !Applies(mode, normal))
                        {
                            continue;
                        }

                        var where = $"{member} {(inMemory ? "in memory" : "on MariaDB")}, {mode}{Describe(flags)}";
                        var o = await Caller.RunAsync(before, member, mode, flags, inMemory ? null : NewPoolName());
                        var f = await Caller.RunAsync(after, member, mode, flags, inMemory ? null : NewPoolName());
                        if (mode == FaultMode.Normal)
                        {
                            normal = o;
                            acquired |= o.Acquisitions > 0;
                            if (!o.Misbehaved && o.Outcome.Contains("threw", StringComparison.Ordinal))
                            {
                                failures.Add($"{where}: the original code fails on its own ({o.Outcome}); the check needs code that runs.");
                            }
                        }

                        if (f.Held > 0)
                        {
                            leakLeft = true;
                            failures.Add($"{where}: the fixed code still holds a connection.\n  original: {o}\n  fixed:    {f}");
                        }

                        if (f.DoubleReleases > o.DoubleReleases)
                        {
                            changed = true;
                            failures.Add($"{where}: the fixed code releases a connection twice.\n  original: {o}\n  fixed:    {f}");
                        }

                        if (sequential && !o.Misbehaved && f.PeakHeld > o.PeakHeld)
                        {
                            changed = true;
                            failures.Add($"{where}: the fixed code holds more connections at once than the original.\n  original: {o}\n  fixed:    {f}");
                        }

                        if (!o.Misbehaved && !o.SameBehaviour(f, sameWork: mode is FaultMode.Normal or FaultMode.CalledTwice or FaultMode.SequenceAbandoned))
                        {
                            changed = true;
                            failures.Add($"{where}: the fix changed what the code does.\n  original: {o}\n  fixed:    {f}");
                        }
                    }
                }
            }

            acquiredBy[member.Group] = acquiredBy.GetValueOrDefault(member.Group) | acquired;
        }

        foreach (var (group, acquired) in acquiredBy.Where(g => !g.Value))
        {
            failures.Add($"{group}: the original code acquired no connection in any normal run, so running it proves nothing.");
        }

        return new ExecutionReport(failures, leakLeft, changed);
    }

    private static bool Applies(FaultMode mode, Observation normal) => mode switch
    {
        FaultMode.SequenceAbandoned => normal.ReturnedSequence,
        FaultMode.SecondAcquisitionThrows => normal.Acquisitions > 1,
        FaultMode.Cancelled => normal.Acquisitions > 0,
        _ => true,
    };

    /// <summary>Every combination of the member's <c>bool</c> parameters (up to three of them).</summary>
    private static IEnumerable<bool[]> FlagCombinations(MemberUnderTest member)
    {
        var count = Math.Min(3, member.Flags);
        for (var bits = 0; bits < 1 << count; bits++)
        {
            yield return Enumerable.Range(0, count).Select(i => (bits & (1 << i)) != 0).ToArray();
        }
    }

    private static string Describe(bool[] flags) => flags.Length == 0 ? string.Empty : $" with flags {string.Join(",", flags)}";

    private static string NewPoolName() => $"tdgfix-{Interlocked.Increment(ref s_pools)}-{Environment.ProcessId}";
}

/// <summary>Removes the diagnostic markup of the testing library (<c>[|...|]</c>, <c>{|#0:...|}</c>, <c>{|ID:...|}</c>).</summary>
internal static class Markup
{
    public static string Strip(string text, Action<TextSpan> onSpan) => Strip(text, (_, span) => onSpan(span));

    /// <summary>As <see cref="Strip(string, Action{TextSpan})"/>, with the span's name (<c>#0</c>, an id, or empty for <c>[|...|]</c>).</summary>
    public static string Strip(string text, Action<string, TextSpan> onSpan)
    {
        var output = new StringBuilder(text.Length);
        var starts = new Stack<(int Start, string Name)>();
        for (var i = 0; i < text.Length; i++)
        {
            if (At(text, i, "[|"))
            {
                starts.Push((output.Length, string.Empty));
                i++;
            }
            else if (At(text, i, "{|") && text.IndexOf(':', i) is var colon and > 0 && IsMarkupName(text, i + 2, colon))
            {
                starts.Push((output.Length, text.Substring(i + 2, colon - i - 2)));
                i = colon;
            }
            else if ((At(text, i, "|]") || At(text, i, "|}")) && starts.Count > 0)
            {
                var (start, name) = starts.Pop();
                onSpan(name, TextSpan.FromBounds(start, output.Length));
                i++;
            }
            else
            {
                output.Append(text[i]);
            }
        }

        return output.ToString();
    }

    private static bool At(string text, int index, string token) => string.CompareOrdinal(text, index, token, 0, token.Length) == 0;

    private static bool IsMarkupName(string text, int start, int end) =>
        end > start && Enumerable.Range(start, end - start).All(i => char.IsLetterOrDigit(text[i]) || text[i] is '#' or '_');
}
