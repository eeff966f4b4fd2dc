// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {IBatchVerifier} from "../src/ZkRollup.sol";

/// @notice Balances, allowances and minting shared by the mock tokens. A transfer takes
///         `feeBps` basis points of the amount and burns them (a fee-on-transfer token); the
///         sender is debited the full amount.
abstract contract TokenLedger {
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    uint256 public totalSupply;
    uint256 public feeBps;

    function mint(address to, uint256 amount) external {
        balanceOf[to] += amount;
        totalSupply += amount;
    }

    function setFeeBps(uint256 bps) external {
        require(bps <= 10_000, "fee above 100%");
        feeBps = bps;
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        return true;
    }

    function _move(address from, address to, uint256 amount) internal {
        require(balanceOf[from] >= amount, "balance");
        uint256 fee = amount * feeBps / 10_000;
        balanceOf[from] -= amount;
        balanceOf[to] += amount - fee;
        totalSupply -= fee;
    }

    function _spend(address from, uint256 amount) internal {
        if (from != msg.sender) {
            require(allowance[from][msg.sender] >= amount, "allowance");
            allowance[from][msg.sender] -= amount;
        }
    }
}

/// @notice A well-behaved ERC-20 (returns true), optionally fee-on-transfer.
contract MockToken is TokenLedger {
    function transfer(address to, uint256 amount) external returns (bool) {
        _move(msg.sender, to, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        _spend(from, amount);
        _move(from, to, amount);
        return true;
    }
}

/// @notice A USDT-like token: `transfer` and `transferFrom` return nothing.
contract NoReturnToken is TokenLedger {
    function transfer(address to, uint256 amount) external {
        _move(msg.sender, to, amount);
    }

    function transferFrom(address from, address to, uint256 amount) external {
        _spend(from, amount);
        _move(from, to, amount);
    }
}

/// @notice A token that reports failure by returning false (and moving nothing) instead of
///         reverting, for the calls switched to failing.
contract FalseToken is TokenLedger {
    bool public failTransfer;
    bool public failTransferFrom;

    function setFailures(bool transfer_, bool transferFrom_) external {
        failTransfer = transfer_;
        failTransferFrom = transferFrom_;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        if (failTransfer) return false;
        _move(msg.sender, to, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        if (failTransferFrom) return false;
        _spend(from, amount);
        _move(from, to, amount);
        return true;
    }
}

/// @notice A token whose `transfer`/`transferFrom` answer with configured raw return data
///         (after moving the funds): for the return-data rules of SafeToken.
contract RawReturnToken is TokenLedger {
    bytes public answer;

    function setAnswer(bytes calldata answer_) external {
        answer = answer_;
    }

    function transfer(address to, uint256 amount) external {
        _move(msg.sender, to, amount);
        _answer();
    }

    function transferFrom(address from, address to, uint256 amount) external {
        _spend(from, amount);
        _move(from, to, amount);
        _answer();
    }

    function _answer() private view {
        bytes memory a = answer;
        assembly ("memory-safe") {
            return(add(a, 0x20), mload(a))
        }
    }
}

/// @notice A hostile token: during `transfer` and `transferFrom` it calls `target` with
///         `payload` (e.g. re-entering the bridge) and records what happened, without
///         reverting itself.
contract ReentrantToken is TokenLedger {
    address public target;
    bytes public payload;
    bool public reentered;
    bool public reentryOk;
    bytes public reentryData;

    function arm(address target_, bytes calldata payload_) external {
        target = target_;
        payload = payload_;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        _move(msg.sender, to, amount);
        _hook();
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        _spend(from, amount);
        _move(from, to, amount);
        _hook();
        return true;
    }

    function _hook() private {
        if (target == address(0)) return;
        address t = target;
        target = address(0);
        reentered = true;
        (reentryOk, reentryData) = t.call(payload);
    }
}

/// @notice An L1 withdrawal recipient: accepts ETH, refuses it, or re-enters `target` with
///         `payload` when paid (recording the outcome, and optionally bubbling a failure up).
contract EthReceiver {
    enum Mode {
        Accept,
        Reject,
        Reenter,
        ReenterAndBubble
    }

    Mode public mode;
    address public target;
    bytes public payload;
    uint256 public payments;
    bool public reentryOk;
    bytes public reentryData;

    function configure(Mode mode_, address target_, bytes calldata payload_) external {
        mode = mode_;
        target = target_;
        payload = payload_;
    }

    receive() external payable {
        ++payments;
        if (mode == Mode.Reject) revert("no ETH, thanks");
        if (mode == Mode.Reenter || mode == Mode.ReenterAndBubble) {
            Mode m = mode;
            mode = Mode.Accept;
            (bool ok, bytes memory data) = target.call(payload);
            reentryOk = ok;
            reentryData = data;
            if (!ok && m == Mode.ReenterAndBubble) {
                assembly ("memory-safe") {
                    revert(add(data, 0x20), mload(data))
                }
            }
        }
    }
}

/// @notice UNIT-TEST DOUBLE of the generated Groth16 `BatchVerifier`, for the positive
///         prove/execute paths of unit tests (real proofs are exercised in
///         ZkRollupRealProof.t.sol and by the Rust anvil test). It accepts exactly one
///         configured (proof, input) pair, with a single public input, and rejects everything
///         else, including everything before it is configured.
contract OneProofVerifier is IBatchVerifier {
    bool public configured;
    bytes32 public proofHash;
    uint256 public acceptedInput;

    function accept(uint256[8] calldata proof, uint256 input) external {
        configured = true;
        proofHash = keccak256(abi.encode(proof));
        acceptedInput = input;
    }

    function verifyProof(uint256[8] calldata proof, uint256[] calldata input) external view returns (bool) {
        return configured && input.length == 1 && input[0] == acceptedInput && keccak256(abi.encode(proof)) == proofHash;
    }

    /// @dev Accepts only a list of copies of the configured pair.
    function verifyProofs(uint256[8][] calldata proofs, uint256[] calldata input) external view returns (bool) {
        if (!configured || proofs.length == 0 || input.length != proofs.length) return false;
        for (uint256 i = 0; i < proofs.length; ++i) {
            if (input[i] != acceptedInput || keccak256(abi.encode(proofs[i])) != proofHash) return false;
        }
        return true;
    }
}
