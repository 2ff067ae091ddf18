using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Verify = TenantDbGuard.Analyzers.Tests.Verifiers.CSharpAnalyzerVerifier<TenantDbGuard.Analyzers.ConnectionLeakAnalyzer>;

namespace TenantDbGuard.Analyzers.Tests;

/// <summary>
/// TDG001 analyses every kind of member that holds code, not a list of syntax kinds: each test puts the same leak
/// (a connection taken and never given back) in one kind of member.
/// </summary>
public sealed class ConnectionLeakMemberKindsTests
{
    private const string Discarded = "because the result is discarded";

    [Fact]
    public Task Primary_constructor_base_argument() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class B
        {
            public B(int rows) { }
        }

        class D(Pool p) : B({|#0:p.GetConnection()|}.Execute("x"))
        {
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("The result of 'GetConnection'", Discarded));

    [Fact]
    public Task Record_primary_constructor_base_argument() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        record Base(int Rows);

        record Derived(Pool Pool) : Base({|#0:Pool.GetConnection()|}.Execute("x"));
        """, Verify.Diagnostic().WithLocation(0).WithArguments("The result of 'GetConnection'", Discarded));

    [Fact]
    public Task Constructor_base_initializer() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class B
        {
            public B(int rows) { }
        }

        class D : B
        {
            public D(Pool pool) : base({|#0:pool.GetConnection()|}.Execute("x"))
            {
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("The result of 'GetConnection'", Discarded));

    [Fact]
    public Task Constructor_initializer_and_body_are_one_graph_reported_once() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class D
        {
            private readonly int _rows;

            public D(Pool pool) : this({|#0:pool.GetConnection()|}.Execute("x"))
            {
                var conn = {|#1:pool.GetConnection()|};
                _rows = conn.Execute("y");
            }

            private D(int rows)
            {
                _rows = rows;
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("The result of 'GetConnection'", Discarded),
        Verify.Diagnostic().WithLocation(1).WithArguments("'conn'", "on the path that leaves the method after line 10"));

    [Fact]
    public Task Static_constructor() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        static class Schema
        {
            public static readonly int Version;

            static Schema()
            {
                Version = {|#0:new Pool().GetConnection()|}.Execute("select version");
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("The result of 'GetConnection'", Discarded));

    [Fact]
    public Task Finalizer() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class Janitor
        {
            private readonly Pool _pool = new Pool();

            ~Janitor()
            {
                {|#0:_pool.GetConnection()|}.Execute("delete from locks");
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("The result of 'GetConnection'", Discarded));

    [Fact]
    public Task Expression_bodied_method() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            int Count(Pool pool) => {|#0:pool.GetConnection()|}.Execute("select count(*) from t");
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("The result of 'GetConnection'", Discarded));

    [Fact]
    public Task Expression_bodied_property() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            private readonly Pool _pool = new Pool();

            int Count => {|#0:_pool.GetConnection()|}.Execute("select count(*) from t");
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("The result of 'GetConnection'", Discarded));

    [Fact]
    public Task Expression_bodied_indexer() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            private readonly Pool _pool = new Pool();

            int this[string table] => {|#0:_pool.GetConnection()|}.Execute("select count(*) from " + table);
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("The result of 'GetConnection'", Discarded));

    [Fact]
    public Task Setter_and_init_accessors() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            private readonly Pool _pool = new Pool();

            public int Limit
            {
                get => 0;
                set => {|#0:_pool.GetConnection()|}.Execute("set limit " + value);
            }

            public int Start
            {
                get => 0;
                init
                {
                    var conn = {|#1:_pool.GetConnection()|};
                    conn.Execute("set start " + value);
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("The result of 'GetConnection'", Discarded),
        Verify.Diagnostic().WithLocation(1).WithArguments("'conn'", "on the path that leaves the method after line 19"));

    [Fact]
    public Task Event_accessors() => Verify.VerifyAnalyzerAsync("""
        using System;
        using Prelude;

        class C
        {
            private readonly Pool _pool = new Pool();

            public event EventHandler Changed
            {
                add => {|#0:_pool.GetConnection()|}.Execute("insert into listeners values (1)");
                remove => {|#1:_pool.GetConnection()|}.Execute("delete from listeners");
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("The result of 'GetConnection'", Discarded),
        Verify.Diagnostic().WithLocation(1).WithArguments("The result of 'GetConnection'", Discarded));

    [Fact]
    public Task Operators() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class Counter
        {
            public Pool Pool { get; } = new Pool();

            public static int operator +(Counter counter, string table) => {|#0:counter.Pool.GetConnection()|}.Execute("select count(*) from " + table);

            public static explicit operator int(Counter counter) => {|#1:counter.Pool.GetConnection()|}.Execute("select 1");
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("The result of 'GetConnection'", Discarded),
        Verify.Diagnostic().WithLocation(1).WithArguments("The result of 'GetConnection'", Discarded));

    [Fact]
    public Task Lambda_anonymous_method_and_local_function() => Verify.VerifyAnalyzerAsync("""
        using System;
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                Func<int> lambda = () => {|#0:pool.GetConnection()|}.Execute("select 1");
                Func<int> anonymous = delegate { return {|#1:pool.GetConnection()|}.Execute("select 2"); };
                int Local() => {|#2:pool.GetConnection()|}.Execute("select 3");
                lambda();
                anonymous();
                Local();
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("The result of 'GetConnection'", Discarded),
        Verify.Diagnostic().WithLocation(1).WithArguments("The result of 'GetConnection'", Discarded),
        Verify.Diagnostic().WithLocation(2).WithArguments("The result of 'GetConnection'", Discarded));

    [Fact]
    public Task Field_property_and_event_initializers() => Verify.VerifyAnalyzerAsync("""
        using System;
        using Prelude;

        class C
        {
            private static readonly Pool SharedPool = new Pool();

            private readonly int _version = {|#0:SharedPool.GetConnection()|}.Execute("select version");

            public int Tables { get; } = {|#1:SharedPool.GetConnection()|}.Execute("select count(*) from tables");

            public event Action Ready = () => {|#2:SharedPool.GetConnection()|}.Execute("select 1");
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("The result of 'GetConnection'", Discarded),
        Verify.Diagnostic().WithLocation(1).WithArguments("The result of 'GetConnection'", Discarded),
        Verify.Diagnostic().WithLocation(2).WithArguments("The result of 'GetConnection'", Discarded));

    [Fact]
    public Task Top_level_statements()
    {
        var test = Verify.CreateTest("""
            using Prelude;

            var pool = new Pool();
            {|#0:pool.GetConnection()|}.Execute("select 1");

            class Helper
            {
                int M(Pool pool) => {|#1:pool.GetConnection()|}.Execute("select 2");
            }
            """);
        test.TestState.OutputKind = OutputKind.ConsoleApplication;
        test.ExpectedDiagnostics.Add(Verify.Diagnostic().WithLocation(0).WithArguments("The result of 'GetConnection'", Discarded));
        test.ExpectedDiagnostics.Add(Verify.Diagnostic().WithLocation(1).WithArguments("The result of 'GetConnection'", Discarded));
        return test.RunAsync();
    }
}
