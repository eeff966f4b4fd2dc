// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {ExitProof, StateTree} from "./StateTree.sol";
import {SafeToken} from "./SafeToken.sol";

/// @title The bridge: roles, listed tokens, the priority queue, pending withdrawals, exodus.
/// @notice Everything that holds or moves users' L1 funds, independent of how batches are
///         settled. A settlement (`BatchChain` and its ZK or, later, optimistic subclass)
///         drives it through four internal calls: consume a priority op at commit, give ops
///         back when batches are reverted, retire ops and credit withdrawals at execution, and
///         record the executed root.
///
///         Invariants:
///         - Priority ops are numbered `0, 1, ...`; `[0, priorityExecuted)` are in executed
///           batches, `[priorityExecuted, priorityCommitted)` in committed ones,
///           `[priorityCommitted, priorityCount)` wait. Only execution retires an op, so an op
///           in a committed but never executed batch still counts towards exodus.
///         - `pooled[token]` is what the contract owes on L2 in `token`: deposits queued minus
///           withdrawals credited and deposits reclaimed. It stays at most 2^112 - 1, which
///           bounds every L2 balance (docs/pubdata.md, "What L1 must guarantee").
///         - `pending[owner][token]` is owed on L1 and leaves only through `withdrawPending`,
///           which zeroes it before paying (pull pattern; re-entrancy guarded too).
///         - Once `exodus` is set it stays set; batches stop, and funds leave through
///           `reclaimDeposit` and `exodusWithdraw`, each at most once.
abstract contract Bridge {
    /// @dev Largest L2 balance, amount and pooled total: 2^112 - 1.
    uint256 internal constant MAX_BALANCE = (1 << 112) - 1;
    /// @dev 2^10 token ids; id 0 is ETH.
    uint256 internal constant MAX_TOKENS = 1 << 10;
    /// @dev 2^24 account ids.
    uint256 internal constant MAX_ACCOUNTS = 1 << 24;

    /// @dev Priority op kinds, as pubdata tags.
    uint8 internal constant DEPOSIT = 4;
    uint8 internal constant FULL_EXIT = 5;

    /// @notice One queued priority op: the first 20 bytes of the keccak of its L1-known fields
    ///         and the time by which a batch must have executed it. One storage slot.
    struct PriorityOp {
        bytes20 hash;
        uint64 deadline;
    }

    /// @notice Recomputes state roots from exit proofs (a separate contract: the Poseidon code
    ///         would not fit in this one).
    StateTree public immutable stateTree;

    address public governance;
    mapping(address => bool) public isOperator;

    /// @notice Listed tokens by id; id 0 is ETH (address 0).
    address[] public tokens;
    /// @dev token address => id + 1 (0: not listed).
    mapping(address => uint256) private tokenIdPlusOne;

    /// @notice Seconds a priority op may wait for execution before exodus can be triggered.
    uint64 public immutable priorityDeadline;

    mapping(uint64 => PriorityOp) public priorityOps;
    uint64 public priorityExecuted;
    uint64 public priorityCommitted;
    uint64 public priorityCount;
    bool public exodus;

    /// @notice What the contract owes on L2 per token id (see the invariants).
    mapping(uint16 => uint256) public pooled;
    /// @notice Withdrawals claimable on L1, per owner and token id.
    mapping(address => mapping(uint16 => uint256)) public pending;
    /// @notice L2 keys registered on L1 for ChangePubKey ops with on-chain authorization:
    ///         owner => nonce => packed Baby Jubjub key.
    mapping(address => mapping(uint32 => bytes32)) public authorizedPubkeys;

    /// @notice The root of the state of the last executed batch (genesis before any).
    bytes32 public executedRoot;
    /// @notice Exodus withdrawals made: account id => token id => done.
    mapping(uint32 => mapping(uint16 => bool)) public exited;

    bool private transient locked;

    event GovernanceTransferred(address indexed governance);
    event OperatorSet(address indexed operator, bool active);
    event TokenListed(uint16 indexed tokenId, address indexed token);
    event DepositQueued(
        uint64 indexed opId, address indexed to, uint16 indexed tokenId, uint128 amount, uint64 deadline
    );
    event FullExitQueued(
        uint64 indexed opId, uint32 indexed accountId, uint16 indexed tokenId, address owner, uint64 deadline
    );
    event PubkeyAuthorized(address indexed owner, uint32 nonce, bytes32 pubkey);
    event WithdrawalPending(address indexed owner, uint16 indexed tokenId, uint256 amount);
    event Withdrawn(address indexed owner, uint16 indexed tokenId, uint256 amount);
    event ExodusActivated(uint64 expiredOpId);
    event DepositReclaimed(uint64 indexed opId, address indexed owner, uint16 indexed tokenId, uint128 amount);
    event ExodusWithdrawn(uint32 indexed accountId, uint16 indexed tokenId, address indexed owner, uint128 amount);

    error NotGovernance();
    error NotOperator();
    error ZeroAddress();
    error TokenAlreadyListed(address token);
    error TooManyTokens();
    error TokenNotListed(uint16 tokenId);
    error UnknownToken(address token);
    error ZeroAmount();
    error PoolFull(uint16 tokenId, uint256 pooled, uint256 amount);
    error AccountOutOfRange(uint32 accountId);
    error ExodusActive();
    error ExodusNotActive();
    error NoExpiredPriorityOp();
    error PriorityOpMissing(uint64 opId);
    error PriorityOpMismatch(uint64 opId);
    error NothingPending(address owner, uint16 tokenId);
    error EthTransferFailed(address to);
    error Reentrancy();
    error NotReclaimable(uint64 opId);
    error AlreadyExited(uint32 accountId, uint16 tokenId);
    error WrongExitProof();

    modifier onlyGovernance() {
        if (msg.sender != governance) revert NotGovernance();
        _;
    }

    modifier onlyOperator() {
        if (!isOperator[msg.sender]) revert NotOperator();
        _;
    }

    modifier notExodus() {
        if (exodus) revert ExodusActive();
        _;
    }

    modifier inExodus() {
        if (!exodus) revert ExodusNotActive();
        _;
    }

    /// @dev Token transfers run foreign code; no entry point that moves funds may be re-entered.
    modifier nonReentrant() {
        if (locked) revert Reentrancy();
        locked = true;
        _;
        locked = false;
    }

    constructor(
        StateTree stateTree_,
        address governance_,
        address operator,
        uint64 priorityDeadline_,
        bytes32 genesisRoot
    ) {
        if (governance_ == address(0) || operator == address(0)) revert ZeroAddress();
        stateTree = stateTree_;
        governance = governance_;
        isOperator[operator] = true;
        priorityDeadline = priorityDeadline_;
        executedRoot = genesisRoot;
        tokens.push(address(0));
        emit GovernanceTransferred(governance_);
        emit OperatorSet(operator, true);
        emit TokenListed(0, address(0));
    }

    // ---------------------------------------------------------------- governance

    function transferGovernance(address next) external onlyGovernance {
        if (next == address(0)) revert ZeroAddress();
        governance = next;
        emit GovernanceTransferred(next);
    }

    function setOperator(address operator, bool active) external onlyGovernance {
        if (operator == address(0)) revert ZeroAddress();
        isOperator[operator] = active;
        emit OperatorSet(operator, active);
    }

    /// @notice Lists an ERC-20 under the next token id. Listing is permanent: L2 balances in
    ///         the token must stay withdrawable.
    function listToken(address token) external onlyGovernance returns (uint16 id) {
        if (token == address(0)) revert ZeroAddress();
        if (tokenIdPlusOne[token] != 0) revert TokenAlreadyListed(token);
        if (tokens.length >= MAX_TOKENS) revert TooManyTokens();
        id = uint16(tokens.length);
        tokens.push(token);
        tokenIdPlusOne[token] = uint256(id) + 1;
        emit TokenListed(id, token);
    }

    function tokenCount() external view returns (uint256) {
        return tokens.length;
    }

    /// @notice The id of a listed token; reverts for one that is not listed.
    function tokenId(address token) public view returns (uint16) {
        uint256 idPlusOne = token == address(0) ? 1 : tokenIdPlusOne[token];
        if (idPlusOne == 0) revert UnknownToken(token);
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint16(idPlusOne - 1);
    }

    // ---------------------------------------------------------------- priority ops

    /// @notice Deposits `msg.value` wei to the L2 account of `to` (created if absent).
    function depositETH(address to) external payable notExodus nonReentrant {
        _queueDeposit(to, 0, msg.value);
    }

    /// @notice Deposits `amount` of a listed ERC-20 to the L2 account of `to`. What is credited
    ///         is what the contract received, so fee-on-transfer tokens credit the net amount.
    function depositERC20(address token, uint256 amount, address to) external notExodus nonReentrant {
        uint256 idPlusOne = tokenIdPlusOne[token];
        if (idPlusOne == 0) revert UnknownToken(token);
        if (amount == 0) revert ZeroAmount();
        uint256 before = SafeToken.balanceOf(token, address(this));
        SafeToken.safeTransferFrom(token, msg.sender, address(this), amount);
        uint256 received = SafeToken.balanceOf(token, address(this)) - before;
        // Ids are below MAX_TOKENS = 2^10.
        // forge-lint: disable-next-line(unsafe-typecast)
        _queueDeposit(to, uint16(idPlusOne - 1), received);
    }

    /// @notice Asks the operator to withdraw the whole `tokenId` balance of account
    ///         `accountId` to the caller, who must own it on L2 (otherwise it exits 0). The
    ///         op must be executed before its deadline, or anyone may trigger exodus.
    function requestFullExit(uint32 accountId, uint16 tokenId_) external notExodus {
        if (accountId >= MAX_ACCOUNTS) revert AccountOutOfRange(accountId);
        if (tokenId_ >= tokens.length) revert TokenNotListed(tokenId_);
        bytes20 hash = fullExitHash(accountId, tokenId_, msg.sender);
        (uint64 opId, uint64 deadline) = _queue(hash);
        emit FullExitQueued(opId, accountId, tokenId_, msg.sender, deadline);
    }

    /// @notice Registers the caller's L2 key for the ChangePubKey op with nonce `nonce`
    ///         (on-chain authorization, for owners that cannot sign messages, e.g. contracts).
    function authorizePubkey(uint32 nonce, bytes32 pubkey) external {
        authorizedPubkeys[msg.sender][nonce] = pubkey;
        emit PubkeyAuthorized(msg.sender, nonce, pubkey);
    }

    /// @notice The queue hash of a deposit: it binds what L1 knows (recipient, token, amount),
    ///         not the account id, which the operator assigns.
    function depositHash(address to, uint16 tokenId_, uint128 amount) public pure returns (bytes20) {
        return bytes20(keccak256(abi.encodePacked(DEPOSIT, to, tokenId_, amount)));
    }

    /// @notice The queue hash of a full exit: account, token and requester; the amount is the
    ///         operator's to fill and the proof's to check.
    function fullExitHash(uint32 accountId, uint16 tokenId_, address owner) public pure returns (bytes20) {
        return bytes20(keccak256(abi.encodePacked(FULL_EXIT, accountId, tokenId_, owner)));
    }

    function _queueDeposit(address to, uint16 tokenId_, uint256 amount) private {
        if (to == address(0)) revert ZeroAddress();
        if (amount == 0) revert ZeroAmount();
        uint256 total = pooled[tokenId_] + amount;
        if (total > MAX_BALANCE) revert PoolFull(tokenId_, pooled[tokenId_], amount);
        pooled[tokenId_] = total;
        // amount <= MAX_BALANCE < 2^128 (checked above).
        // forge-lint: disable-next-line(unsafe-typecast)
        uint128 value = uint128(amount);
        (uint64 opId, uint64 deadline) = _queue(depositHash(to, tokenId_, value));
        emit DepositQueued(opId, to, tokenId_, value, deadline);
    }

    function _queue(bytes20 hash) private returns (uint64 opId, uint64 deadline) {
        opId = priorityCount;
        deadline = uint64(block.timestamp) + priorityDeadline;
        priorityOps[opId] = PriorityOp(hash, deadline);
        priorityCount = opId + 1;
    }

    // ---------------------------------------------------------------- settlement hooks

    /// @dev The next priority op, consumed by a batch being committed, must have `hash`.
    function _consumePriorityOp(bytes20 hash) internal {
        uint64 opId = priorityCommitted;
        if (opId >= priorityCount) revert PriorityOpMissing(opId);
        if (priorityOps[opId].hash != hash) revert PriorityOpMismatch(opId);
        priorityCommitted = opId + 1;
    }

    /// @dev Reverted batches give their `count` priority ops back to the queue.
    function _unconsumePriorityOps(uint64 count) internal {
        priorityCommitted -= count;
    }

    /// @dev An executed batch retires its `count` priority ops, in order.
    function _executePriorityOps(uint64 count) internal {
        uint64 head = priorityExecuted;
        for (uint64 i = 0; i < count; ++i) {
            delete priorityOps[head + i];
        }
        priorityExecuted = head + count;
    }

    /// @dev Funds leaving the rollup (an executed withdrawal, a reclaimed deposit, an exodus
    ///      balance) become claimable by `owner` on L1.
    function _creditWithdrawal(address owner, uint16 tokenId_, uint128 amount) internal {
        pooled[tokenId_] -= amount;
        pending[owner][tokenId_] += amount;
        emit WithdrawalPending(owner, tokenId_, amount);
    }

    // ---------------------------------------------------------------- withdrawals

    /// @notice Pays `owner` what is pending for them in `tokenId`. Anyone may call it; the
    ///         funds only ever go to `owner`. A fee-on-transfer token delivers less than the
    ///         amount, which is the token's doing; the debt is settled in full.
    function withdrawPending(address owner, uint16 tokenId_) external nonReentrant {
        uint256 amount = pending[owner][tokenId_];
        if (amount == 0) revert NothingPending(owner, tokenId_);
        pending[owner][tokenId_] = 0;
        emit Withdrawn(owner, tokenId_, amount);
        if (tokenId_ == 0) {
            (bool ok,) = owner.call{value: amount}("");
            if (!ok) revert EthTransferFailed(owner);
        } else {
            SafeToken.safeTransfer(tokens[tokenId_], owner, amount);
        }
    }

    // ---------------------------------------------------------------- exodus

    /// @notice Anyone may stop the rollup once the oldest unexecuted priority op is past its
    ///         deadline: the operator has failed to serve L1 users.
    function activateExodus() external notExodus {
        uint64 head = priorityExecuted;
        // forge-lint: disable-next-line(block-timestamp)
        if (head >= priorityCount || block.timestamp <= priorityOps[head].deadline) {
            revert NoExpiredPriorityOp();
        }
        exodus = true;
        emit ExodusActivated(head);
    }

    /// @notice In exodus, a deposit that no executed batch processed goes back to its
    ///         recipient (as a pending withdrawal), once.
    function reclaimDeposit(uint64 opId, address to, uint16 tokenId_, uint128 amount) external inExodus {
        if (opId < priorityExecuted || opId >= priorityCount) revert NotReclaimable(opId);
        if (priorityOps[opId].hash != depositHash(to, tokenId_, amount)) revert NotReclaimable(opId);
        delete priorityOps[opId];
        emit DepositReclaimed(opId, to, tokenId_, amount);
        _creditWithdrawal(to, tokenId_, amount);
    }

    /// @notice In exodus, the owner of an account gets each token balance of the last executed
    ///         state back (as a pending withdrawal), once per account and token, by proving it
    ///         against `executedRoot`. Anyone may submit the proof; the funds go to the owner.
    function exodusWithdraw(ExitProof calldata p) external inExodus {
        if (exited[p.accountId][p.tokenId]) revert AlreadyExited(p.accountId, p.tokenId);
        if (p.accountId >= MAX_ACCOUNTS) revert AccountOutOfRange(p.accountId);
        if (p.tokenId >= tokens.length) revert TokenNotListed(p.tokenId);
        if (p.balance == 0) revert ZeroAmount();
        if (stateTree.accountRoot(p) != uint256(executedRoot)) revert WrongExitProof();
        exited[p.accountId][p.tokenId] = true;
        emit ExodusWithdrawn(p.accountId, p.tokenId, p.owner, p.balance);
        _creditWithdrawal(p.owner, p.tokenId, p.balance);
    }
}
