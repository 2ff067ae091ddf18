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
    /// The null-tested locals of each graph walked with this context (see <see cref="NullLocals"/>), found once for all
    /// the acquisitions of the graph. A context serves one analyzer callback, on one thread.
    /// </summary>
    public Dictionary<ControlFlowGraph, (Dictionary<ILocalSymbol, int> Indexes, HashSet<ILocalSymbol>? Untracked)> NullLocals { get; } = new();
}
