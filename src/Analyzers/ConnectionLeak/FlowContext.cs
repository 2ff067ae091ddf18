// What every flow analysis of one compilation shares: the acquisition rules, the names configured for the syntax tree
// being analysed, the summaries of the compilation's own methods, and the cancellation of the analyzer callback.
using System.Collections.Generic;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.FlowAnalysis;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>The rules, names and summaries a flow analysis runs with.</summary>
internal sealed class FlowContext
{
    public FlowContext(AcquisitionRules rules, NameConfiguration names, MethodSummaries summaries, CancellationToken cancellationToken)
    {
        Rules = rules;
        Names = names;
        Summaries = summaries;
        CancellationToken = cancellationToken;
    }

    public AcquisitionRules Rules { get; }

    public NameConfiguration Names { get; }

    public MethodSummaries Summaries { get; }

    public CancellationToken CancellationToken { get; }

    /// <summary>
    /// How many steps all the walks made with this context may still take together. Each walk stops at its own limit;
    /// this one bounds a member with hundreds of acquisitions, each walked over the whole member (300 nested
    /// <c>using</c> blocks took 30 s): once it is spent, the acquisitions not yet walked are not checked, and TDG006
    /// says so.
    /// </summary>
    public int StepsLeft { get; set; } = MemberStepBudget;

    /// <summary>The steps of <see cref="StepsLeft"/> a context starts with: twenty walks at their own limit.</summary>
    public const int MemberStepBudget = 1_000_000;

    /// <summary>
    /// The null-tested locals of each graph walked with this context (see <see cref="NullLocals"/>), found once for all
    /// the acquisitions of the graph. A context serves one analyzer callback, on one thread.
    /// </summary>
    public Dictionary<ControlFlowGraph, (Dictionary<ILocalSymbol, int> Indexes, HashSet<ILocalSymbol>? Untracked)> NullLocals { get; } = new();
}
