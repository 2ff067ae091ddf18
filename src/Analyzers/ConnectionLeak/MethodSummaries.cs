// The interprocedural part of TDG001: summaries of the compilation's own methods, inferred lazily from their
// bodies the first time a caller needs one, cached for the compilation and safe to ask from concurrent analyzer
// callbacks. A method on a recursion cycle gets the summary that leads to no report (MethodSummary.Nothing for
// what it acquires, TakesOver for what it does with an argument), whichever method of the cycle is asked first.
using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.FlowAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>The summaries of one compilation's methods.</summary>
internal sealed class MethodSummaries
{
    /// <summary>The summaries being inferred on this thread, innermost last: a key met again is a recursion cycle.</summary>
    [ThreadStatic]
    private static List<InProgress>? t_inProgress;

    private readonly Compilation _compilation;
    private readonly AcquisitionRules _rules;
    private readonly AnalyzerConfigOptionsProvider _options;
    private readonly ConcurrentDictionary<IMethodSymbol, MethodSummary> _methods = new(SymbolEqualityComparer.Default);
    private readonly ConcurrentDictionary<SummaryKey, ParameterEffect> _parameters = new();
    private readonly ConcurrentDictionary<IFieldSymbol, string> _openedFlags = new(SymbolEqualityComparer.Default);
    private readonly ConcurrentDictionary<IFieldSymbol, bool> _constructorFlags = new(SymbolEqualityComparer.Default);
    private readonly ConcurrentDictionary<IMethodSymbol, ulong> _identityTests = new(SymbolEqualityComparer.Default);
    private readonly ConcurrentDictionary<IMethodSymbol, bool> _returnsReceiver = new(SymbolEqualityComparer.Default);
    private readonly ConcurrentDictionary<IMethodSymbol, bool> _empty = new(SymbolEqualityComparer.Default);
    private readonly ConcurrentDictionary<SummaryKey, bool> _reopens = new();
    private readonly Lazy<ImmutableHashSet<string>> _candidateNames;
    private readonly Lazy<ImmutableHashSet<string>> _candidateProperties;

    public MethodSummaries(Compilation compilation, AcquisitionRules rules, AnalyzerConfigOptionsProvider options)
    {
        _compilation = compilation;
        _rules = rules;
        _options = options;
        _candidateNames = new Lazy<ImmutableHashSet<string>>(() => SummaryCandidates.Find(compilation, rules), LazyThreadSafetyMode.ExecutionAndPublication);
        _candidateProperties = new Lazy<ImmutableHashSet<string>>(() => SummaryCandidates.PropertyNames(CandidateNames), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>
    /// The names of the compilation's properties whose getters may acquire for their readers (their getters' names are in
    /// <see cref="CandidateNames"/>), so that the syntax pre-filter lets reads of them through.
    /// </summary>
    public ImmutableHashSet<string> CandidateProperties => _candidateProperties.Value;

    /// <summary>Is <paramref name="getter"/> the getter of a property of this compilation that may acquire for its readers?</summary>
    public bool MayBeAcquiringGetter(IMethodSymbol getter) =>
        getter.MethodKind == MethodKind.PropertyGet && CandidateProperties.Count > 0 && _rules.IsInSource(getter) && CandidateNames.Contains(getter.OriginalDefinition.Name);

    public AcquisitionRules Rules => _rules;

    /// <summary>
    /// The names of the compilation's methods that may acquire for their callers (directly or through each other),
    /// so that the syntax pre-filter lets calls to them through.
    /// </summary>
    public ImmutableHashSet<string> CandidateNames => _candidateNames.Value;

    /// <summary>The summary of <paramref name="method"/>; <see cref="MethodSummary.Nothing"/> for methods of other assemblies.</summary>
    public MethodSummary Of(IMethodSymbol method, CancellationToken cancellationToken)
    {
        method = PartialParts.WithBody(method);
        if (method.MethodKind is MethodKind.LocalFunction or MethodKind.AnonymousFunction || !_rules.IsInSource(method) || !CandidateNames.Contains(method.Name))
        {
            return MethodSummary.Nothing;
        }

        if (_methods.TryGetValue(method, out var known))
        {
            return known;
        }

        var summary = Infer(new SummaryKey(method, -1), MethodSummary.Nothing, () => SummaryInference.InferMethod(this, method, cancellationToken));
        return _methods.GetOrAdd(method, summary);
    }

    /// <summary>
    /// The name of the member whose <c>Open</c> the bool field <paramref name="flag"/> records ('_openedHere' set true
    /// right after 'Connection.Open()' and only there); empty when it is not such a flag. Read once per field.
    /// </summary>
    public string MemberOpenedUnder(IFieldSymbol flag, CancellationToken cancellationToken) =>
        _openedFlags.GetOrAdd(flag, f => OwnerWalk.MemberOpenedUnder(f, cancellationToken) ?? string.Empty);

    /// <summary>
    /// Is the bool field <paramref name="flag"/> written only by its initializer and the constructors of its type (a flag
    /// that lacks only the <c>readonly</c> keyword)? Read once per field.
    /// </summary>
    public bool IsSetOnlyByConstructors(IFieldSymbol flag, CancellationToken cancellationToken) =>
        _constructorFlags.GetOrAdd(flag, f => OwnerWalk.IsSetOnlyByConstructors(f, cancellationToken));

    /// <summary>
    /// The parameters (one bit per ordinal) that <paramref name="method"/>, a bool method of this compilation, returns true
    /// for only when they are the object of a field or property (<see cref="IdentityTests"/>). Read once per method.
    /// </summary>
    public ulong ParametersTestedForIdentity(IMethodSymbol method, CancellationToken cancellationToken)
    {
        method = PartialParts.WithBody(method);
        if (method.MethodKind is not (MethodKind.Ordinary or MethodKind.LocalFunction) || !_rules.IsInSource(method))
        {
            return 0;
        }

        return _identityTests.GetOrAdd(method, m => IdentityTests.ParametersTestedForIdentity(_compilation, m, cancellationToken));
    }

    /// <summary>
    /// Does <paramref name="method"/>, a method of this compilation that no override can replace (not virtual, abstract,
    /// an unsealed override, extern or of an interface), do nothing (<see cref="EmptyCalls.HasEmptyBody"/>)? Read once per method.
    /// </summary>
    public bool DoesNothing(IMethodSymbol method, CancellationToken cancellationToken)
    {
        method = method.ReducedFrom ?? method;
        method = PartialParts.WithBody(method);
        if (method.MethodKind is not (MethodKind.Ordinary or MethodKind.LocalFunction)
            || method.IsVirtual || method.IsAbstract || method.IsExtern || (method.IsOverride && !method.IsSealed)
            || method.ContainingType is null or { TypeKind: TypeKind.Interface } || !_rules.IsInSource(method))
        {
            return false;
        }

        return _empty.GetOrAdd(method, m => EmptyCalls.HasEmptyBody(m, cancellationToken));
    }

    /// <summary>What <paramref name="method"/> (of this compilation) does with the connection passed as its parameter <paramref name="ordinal"/>.</summary>
    public ParameterEffect EffectOn(IMethodSymbol method, int ordinal, CancellationToken cancellationToken)
    {
        method = PartialParts.WithBody(method);
        if (method.MethodKind is MethodKind.LocalFunction or MethodKind.AnonymousFunction || !_rules.IsInSource(method)
            || ordinal < 0 || ordinal >= method.Parameters.Length)
        {
            return ParameterEffect.None;
        }

        var key = new SummaryKey(method, ordinal);
        if (_parameters.TryGetValue(key, out var known))
        {
            return known;
        }

        var effect = Infer(key, ParameterEffect.TakesOver, () => SummaryInference.InferParameter(this, method, method.Parameters[ordinal], cancellationToken));
        return _parameters.GetOrAdd(key, effect);
    }

    /// <summary>
    /// May <paramref name="method"/>, a method of this compilation, open the connection it is given as its parameter
    /// <paramref name="ordinal"/> (or on <see cref="Reopening.ThisOrdinal"/> and
    /// <see cref="Reopening.ReceiverOrdinal"/>, the object it is called on) when that connection is closed? Read once per method and parameter; a method on a
    /// recursion cycle may.
    /// </summary>
    public bool Reopens(IMethodSymbol method, int ordinal, CancellationToken cancellationToken)
    {
        method = PartialParts.WithBody(method);
        if (!_rules.IsInSource(method))
        {
            return false;
        }

        // Keys of their own, apart from the parameter effects of the same ordinals.
        var key = new SummaryKey(method, ReopensOrdinals + ordinal);
        if (_reopens.TryGetValue(key, out var known))
        {
            return known;
        }

        var reopens = Infer(key, true, () => OpensItsConnection(method, ordinal, cancellationToken));
        return _reopens.GetOrAdd(key, reopens);
    }

    /// <summary>Below every other key: the ordinals of <see cref="Reopens"/>.</summary>
    private const int ReopensOrdinals = -1000;

    private bool OpensItsConnection(IMethodSymbol method, int ordinal, CancellationToken cancellationToken)
    {
        foreach (var reference in method.DeclaringSyntaxReferences)
        {
            var syntax = reference.GetSyntax(cancellationToken);
#pragma warning disable RS1030 // The summaries read other methods' bodies: the model comes from the compilation (the driver caches it).
            var body = _compilation.GetSemanticModel(syntax.SyntaxTree).GetOperation(syntax, cancellationToken);
#pragma warning restore RS1030
            if (body is null)
            {
                continue;
            }

            return Reopening.Opens(body, operation => ordinal switch
            {
                Reopening.ThisOrdinal => operation is IInstanceReferenceOperation { ReferenceKind: InstanceReferenceKind.ContainingTypeInstance },
                Reopening.ReceiverOrdinal => operation is IParameterReferenceOperation { Parameter.ContainingSymbol: var owner } && SymbolEqualityComparer.Default.Equals(owner, method.ContainingType),
                _ => operation is IParameterReferenceOperation { Parameter: var parameter } && parameter.Ordinal == ordinal
                    && SymbolEqualityComparer.Default.Equals(parameter.ContainingSymbol?.OriginalDefinition, method.OriginalDefinition),
            }, this, cancellationToken);
        }

        return false;
    }

    /// <summary>
    /// Does <paramref name="method"/>, an instance method of this compilation with a body, return <c>this</c> on every
    /// return (<c>Wrapper BeginAuto() { Transaction = BeginTransaction(); return this; }</c>)? Its value is then the
    /// object it was called on (of a struct, a copy that holds the same connection). Read once per method.
    /// </summary>
    public bool ReturnsItsReceiver(IMethodSymbol method, CancellationToken cancellationToken)
    {
        method = PartialParts.WithBody(method);
        if (method.IsStatic || method.IsAbstract || method.IsAsync || method.ReturnsVoid || method.ReturnsByRef || method.MethodKind != MethodKind.Ordinary
            || method.DeclaringSyntaxReferences.Length != 1 || !_rules.IsInSource(method))
        {
            return false;
        }

        return _returnsReceiver.GetOrAdd(method, m => ReturnsOnlyThis(m, cancellationToken));
    }

    private bool ReturnsOnlyThis(IMethodSymbol method, CancellationToken cancellationToken)
    {
        if (method.DeclaringSyntaxReferences[0].GetSyntax(cancellationToken) is not MethodDeclarationSyntax { } declaration
            || declaration.Body is null && declaration.ExpressionBody is null)
        {
            return false;
        }

#pragma warning disable RS1030 // The summaries read other methods' bodies: the model comes from the compilation (the driver caches it).
        var body = _compilation.GetSemanticModel(declaration.SyntaxTree).GetOperation(declaration, cancellationToken);
#pragma warning restore RS1030
        var returns = 0;
        var pending = new Stack<IOperation>();
        if (body is not null)
        {
            pending.Push(body);
        }

        while (pending.Count > 0)
        {
            var operation = pending.Pop();
            if (operation is IReturnOperation { Kind: OperationKind.Return } returned)
            {
                if (TrackedVariables.Unwrap(returned.ReturnedValue) is not IInstanceReferenceOperation { ReferenceKind: InstanceReferenceKind.ContainingTypeInstance })
                {
                    return false;
                }

                returns++;
                continue;
            }

            foreach (var child in operation.ChildOperations)
            {
                // A lambda's or a local function's returns are not the method's.
                if (child is not (IAnonymousFunctionOperation or ILocalFunctionOperation))
                {
                    pending.Push(child);
                }
            }
        }

        return returns > 0;
    }

    /// <summary>
    /// What a member of a C# 14 extension block of this compilation (<c>extension(MySqlConnection c) { void CloseQuietly() ... }</c>)
    /// does with the connection it is called on: the receiver is the block's parameter, not one of the method's.
    /// </summary>
    public ParameterEffect EffectOnReceiver(IMethodSymbol method, CancellationToken cancellationToken)
    {
        method = PartialParts.WithBody(method);
        if (!IsExtensionMember(method) || !_rules.IsInSource(method))
        {
            return ParameterEffect.None;
        }

        var key = new SummaryKey(method, ReceiverOrdinal);
        if (_parameters.TryGetValue(key, out var known))
        {
            return known;
        }

        var effect = Infer(key, ParameterEffect.TakesOver, () => GraphOf(method, cancellationToken) is var (graph, _) && ReceiverOf(graph, method.ContainingType) is { } receiver
            ? SummaryInference.InferParameter(this, method, receiver, cancellationToken)
            : ParameterEffect.None);
        return _parameters.GetOrAdd(key, effect);
    }

    /// <summary>Is <paramref name="method"/> a member of an extension block (<c>TypeKind.Extension</c>, which Roslyn 4.8 does not name)?</summary>
    public static bool IsExtensionMember(IMethodSymbol method) => method.ContainingType is { TypeKind: ExtensionTypeKind };

    private const TypeKind ExtensionTypeKind = (TypeKind)14;

    /// <summary>The key of the receiver's effect: below the method's own summary (-1) and every parameter.</summary>
    private const int ReceiverOrdinal = -2;

    /// <summary>The extension block's parameter as the body reads it (none when the body never reads it).</summary>
    private static IParameterSymbol? ReceiverOf(ControlFlowGraph graph, INamedTypeSymbol extension)
    {
        foreach (var block in graph.Blocks)
        {
            IEnumerable<IOperation> roots = block.BranchValue is { } branch ? block.Operations.Append(branch) : block.Operations;
            foreach (var root in roots)
            {
                foreach (var operation in root.DescendantsAndSelf())
                {
                    if (operation is IParameterReferenceOperation { Parameter: var parameter } && SymbolEqualityComparer.Default.Equals(parameter.ContainingSymbol, extension))
                    {
                        return parameter;
                    }
                }
            }
        }

        return null;
    }

    /// <summary>The compilation's semantic model of <paramref name="tree"/> (the operations of a graph carry
    /// none).</summary>
    public SemanticModel ModelOf(SyntaxTree tree) =>
#pragma warning disable RS1030 // Do not invoke Compilation.GetSemanticModel() method within a diagnostic analyzer
        _compilation.GetSemanticModel(tree);
#pragma warning restore RS1030

    /// <summary>The control-flow graph of a method of this compilation, and the names in effect for its file.</summary>
    public (ControlFlowGraph Graph, NameConfiguration Names)? GraphOf(IMethodSymbol method, CancellationToken cancellationToken)
    {
        method = PartialParts.WithBody(method);
        foreach (var reference in method.DeclaringSyntaxReferences)
        {
            var syntax = reference.GetSyntax(cancellationToken);
            if (syntax is BaseMethodDeclarationSyntax { Body: null, ExpressionBody: null } or AccessorDeclarationSyntax { Body: null, ExpressionBody: null })
            {
                continue;
            }

            // The summaries read other methods' bodies: the model comes from the compilation (the driver caches it).
#pragma warning disable RS1030 // Do not invoke Compilation.GetSemanticModel() method within a diagnostic analyzer
            var model = _compilation.GetSemanticModel(syntax.SyntaxTree);
#pragma warning restore RS1030
            if (AcquisitionSites.CreateGraph(model, syntax, cancellationToken) is { } graph)
            {
                return (graph, _rules.GetNames(_options.GetOptions(syntax.SyntaxTree)));
            }
        }

        return null;
    }

    /// <summary>
    /// Infers one summary, cutting recursion: when <paramref name="key"/> is already being inferred on this thread,
    /// every summary from there to here is on the cycle and gets <paramref name="cut"/>.
    /// </summary>
    private static T Infer<T>(SummaryKey key, T cut, Func<T> infer)
    {
        var stack = t_inProgress ??= new List<InProgress>();
        for (var i = 0; i < stack.Count; i++)
        {
            if (stack[i].Key.Equals(key))
            {
                for (var j = i; j < stack.Count; j++)
                {
                    stack[j].OnCycle = true;
                }

                return cut;
            }
        }

        var frame = new InProgress(key);
        stack.Add(frame);
        try
        {
            var result = infer();
            return frame.OnCycle ? cut : result;
        }
        finally
        {
            stack.RemoveAt(stack.Count - 1);
        }
    }

    private sealed class InProgress
    {
        public InProgress(SummaryKey key)
        {
            Key = key;
        }

        public SummaryKey Key { get; }

        public bool OnCycle { get; set; }
    }

    /// <summary>A method, and the parameter ordinal for a parameter effect (-1 for the method's own summary).</summary>
    private readonly struct SummaryKey : IEquatable<SummaryKey>
    {
        public SummaryKey(IMethodSymbol method, int ordinal)
        {
            Method = method;
            Ordinal = ordinal;
        }

        public IMethodSymbol Method { get; }

        public int Ordinal { get; }

        public bool Equals(SummaryKey other) => Ordinal == other.Ordinal && SymbolEqualityComparer.Default.Equals(Method, other.Method);

        public override bool Equals(object? obj) => obj is SummaryKey other && Equals(other);

        public override int GetHashCode() => SymbolEqualityComparer.Default.GetHashCode(Method) * 31 + Ordinal;
    }
}
