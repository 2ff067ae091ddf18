// TDG004's part of the walk: the releases seen (a released path state points at one), and the uses and second
// releases of a resource on a path where it was already released.
using System;
using System.Collections.Generic;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>The releases of the followed resource and what happens to it after one.</summary>
internal sealed class AfterReleaseTracking
{
    private readonly LeakFlowAnalysis _analysis;
    private List<ReleaseSite>? _releaseSites;
    private List<Misuse>? _misuses;
    private HashSet<IOperation>? _releasedWhileHeld;

    public AfterReleaseTracking(LeakFlowAnalysis analysis)
    {
        _analysis = analysis;
    }

    /// <summary>The uses and second releases found, each second release marked fixable only where every path had released.</summary>
    public IReadOnlyList<Misuse> Misuses()
    {
        if (_misuses is null)
        {
            return Array.Empty<Misuse>();
        }

        // A second release can go only where every path that reaches it has released already.
        for (var i = 0; i < _misuses.Count; i++)
        {
            var misuse = _misuses[i];
            if (misuse.Kind == MisuseKind.ReleasedAgain && _releasedWhileHeld?.Contains(misuse.At) == true)
            {
                _misuses[i] = new Misuse(misuse.Kind, misuse.At, misuse.Other, misuse.Closed, fixable: false, misuse.Variable);
            }
        }

        return _misuses;
    }

    /// <summary>Did some path release the resource while it held it?</summary>
    public bool ReleasedWhileHeld => _releasedWhileHeld is { Count: > 0 };

    /// <summary><paramref name="release"/> released a held resource on some path.</summary>
    public void NoteReleasedWhileHeld(IOperation release) => (_releasedWhileHeld ??= new HashSet<IOperation>()).Add(release);

    /// <summary>The release a released <paramref name="state"/> comes from.</summary>
    public ReleaseSite ReleaseOf(PathState state) => _releaseSites![state.ReleasedAt - 1];

    /// <summary>1 + the index of <paramref name="release"/> among the releases seen, adding it the first time.</summary>
    public int ReleaseIndex(IOperation release, bool closes)
    {
        _releaseSites ??= new List<ReleaseSite>();
        for (var i = 0; i < _releaseSites.Count; i++)
        {
            if (ReferenceEquals(_releaseSites[i].Operation, release) && _releaseSites[i].Closes == closes)
            {
                return i + 1;
            }
        }

        _releaseSites.Add(new ReleaseSite(release, _analysis.Block.Ordinal, closes, ReceiverOf(release)));
        return _releaseSites.Count;
    }

    /// <summary>A member of the released resource is used: reported unless it is harmless after this kind of release.</summary>
    public void UseAfterRelease(IOperation use, IOperation? receiver, ISymbol member)
    {
        if (member.Name == "State" || member.ContainingType?.SpecialType == SpecialType.System_Object || member.Name is "GetType" or "ToString" or "GetHashCode" or "Equals")
        {
            return;
        }

        if (IsKeptSetting(member) || IsKeptValue(member))
        {
            return;
        }

        var release = ReleaseOf(_analysis.State);
        if (release.Closes)
        {
            if (member is IMethodSymbol { Name: "Open" or "OpenAsync" })
            {
                // Opened again: that Open is an acquisition of its own, and its own analysis follows the connection.
                _analysis.State = new PathState(ResourceStatus.Released, HolderSet.Empty);
                return;
            }

            if (!NeedsOpenConnection(member.Name))
            {
                // A closed DbConnection keeps its settings, and Dapper opens and closes a closed connection by itself.
                return;
            }
        }

        AddMisuse(MisuseKind.UsedAfterRelease, use, release.Operation, receiver);
    }

    public void AddMisuse(MisuseKind kind, IOperation at, IOperation other, IOperation? receiver)
    {
        _misuses ??= new List<Misuse>();
        foreach (var existing in _misuses)
        {
            if (existing.Kind == kind && ReferenceEquals(existing.At, at))
            {
                return;
            }
        }

        var closed = kind == MisuseKind.UsedAfterRelease && ReleaseOf(_analysis.State).Closes;
        _misuses.Add(new Misuse(kind, at, other, closed, fixable: kind != MisuseKind.UsedAfterRelease, VariableName(receiver)));
    }

    /// <summary>
    /// A setting of a DbConnection (<c>ConnectionString</c>, <c>Database</c>, <c>DataSource</c>, <c>ConnectionTimeout</c>):
    /// Dispose closes the connection and keeps them, as Close does, so reading one after any release is no use of it.
    /// </summary>
    private static bool IsKeptSetting(ISymbol member) =>
        member is IPropertySymbol { Name: "ConnectionString" or "Database" or "DataSource" or "ConnectionTimeout", IsStatic: false } property
            && IsDbConnection(property.ContainingType);

    private static bool IsDbConnection(ITypeSymbol? type)
    {
        for (var current = type; current is not null; current = current.BaseType)
        {
            if (current is { Name: "DbConnection", ContainingNamespace: { Name: "Common", ContainingNamespace: { Name: "Data", ContainingNamespace: { Name: "System", ContainingNamespace.IsGlobalNamespace: true } } } })
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// A string, number, bool or enum the object keeps in a field or an auto-property (<c>lease.TenantKey</c>, a lease's
    /// <c>Attempts</c>): what it was given, read without reaching the connection. A property with a body of its own may
    /// reach the connection (or check for the release), and a member of another type may hold it: both stay uses.
    /// </summary>
    private static bool IsKeptValue(ISymbol member)
    {
        var type = member switch
        {
            IFieldSymbol { IsStatic: false } field => field.Type,
            IPropertySymbol { IsStatic: false, IsIndexer: false, GetMethod: { } getter } property when IsAutoProperty(property, getter) => property.Type,
            _ => null,
        };
        return type is not null
            && (type.TypeKind == TypeKind.Enum || (type.SpecialType != SpecialType.None && type.SpecialType != SpecialType.System_Object));
    }

    private static bool IsAutoProperty(IPropertySymbol property, IMethodSymbol getter)
    {
        if (property.Locations.Length > 0 && property.Locations[0].IsInSource)
        {
            // A source auto-property has a compiler-made backing field.
            foreach (var other in property.ContainingType.GetMembers())
            {
                if (other is IFieldSymbol { IsImplicitlyDeclared: true } field && SymbolEqualityComparer.Default.Equals(field.AssociatedSymbol, property))
                {
                    return true;
                }
            }

            return false;
        }

        // In metadata the accessor the compiler wrote for an auto-property carries [CompilerGenerated].
        foreach (var attribute in getter.GetAttributes())
        {
            if (attribute.AttributeClass is { Name: "CompilerGeneratedAttribute", ContainingNamespace.Name: "CompilerServices" })
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>DbConnection members that throw on a closed connection.</summary>
    private static bool NeedsOpenConnection(string name) =>
        name is "BeginTransaction" or "BeginTransactionAsync" or "ChangeDatabase" or "ChangeDatabaseAsync" or "EnlistTransaction"
            or "GetSchema" or "GetSchemaAsync" or "ServerVersion" or "ServerThread" or "ResetConnectionAsync";

    private IOperation? ReceiverOf(IOperation release)
    {
        if (release is not IInvocationOperation invocation)
        {
            return null;
        }

        if (invocation.Instance is not null)
        {
            return invocation.Instance;
        }

        foreach (var argument in invocation.Arguments)
        {
            if (_analysis.Variables.HeldBy(_analysis.State, argument.Value))
            {
                return argument.Value;
            }
        }

        return null;
    }

    /// <summary>The receiver's name when it is a variable; otherwise a local or parameter that holds the resource.</summary>
    private string? VariableName(IOperation? receiver)
    {
        switch (TrackedVariables.Unwrap(receiver))
        {
            case ILocalReferenceOperation local:
                return local.Local.Name;
            case IParameterReferenceOperation parameter:
                return parameter.Parameter.Name;
        }

        return _analysis.Variables.FirstHolderName(_analysis.State);
    }
}

/// <summary>A release of the resource: the call, its block, whether it only closed a DbConnection, and what it was called on.</summary>
internal readonly struct ReleaseSite
{
    public ReleaseSite(IOperation operation, int blockOrdinal, bool closes, IOperation? receiver)
    {
        Operation = operation;
        BlockOrdinal = blockOrdinal;
        Closes = closes;
        Receiver = receiver;
    }

    public IOperation Operation { get; }

    public int BlockOrdinal { get; }

    public bool Closes { get; }

    public IOperation? Receiver { get; }
}
